//! `astrolab publish`: a run's table results as one release folder.
//!
//! Decisions:
//! * The run is checked first: every output its manifest lists must exist
//!   and have the SHA-256 the manifest recorded, or nothing is written (a
//!   release publishes what the run wrote, not a file edited since).
//! * Every table among the outputs is published (FITS binary tables, and
//!   CSV files with a header line, typed by their values:
//!   [`crate::table::read_csv_table`]), or those `--table NAME` names
//!   (other outputs are not tables: figures are copied, the rest stays
//!   with the run). A FITS table is named by its EXTNAME in lower case, a
//!   CSV table by its file's stem; when two files have the same name the
//!   file's stem is prefixed.
//! * Every column must be documented ([`crate::columns`]), or nothing is
//!   written and the error names the column, the file and the HDU.
//! * Tables with RA and DEC columns also get a HATS catalog; tables without
//!   sky positions get everything else.
//! * The folder is written into a temporary sibling (`.NAME.partial-PID`)
//!   and renamed to `--to` at the end; `--to` must be new or empty.
//!
//! Layout: `catalog.fits`, `parquet/`, `hats/TABLE/`, `cds/ReadMe` and
//! `cds/TABLE.dat`, `zenodo.json`, `figures/`, `provenance/ro-crate-metadata.json`,
//! `SHA256SUMS`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use astrolab_formats::fits::{Card, FitsFile, HeaderValue};

use crate::cds::{write_cds, CdsMeta};
use crate::columns::{ColumnDoc, Dictionary};
use crate::error::{PublishError, Result};
use crate::fits_vac::{vac_primary_cards, write_catalog, VacHeader};
use crate::hats::{write_hats, HatsOptions, HatsSummary, HEALPIX_COLUMN};
use crate::parquet_out::{record_batch, write_parquet};
use crate::sums::{sha256_file, write_sums};
use crate::table::{read_csv_table, read_tables, Table};
use crate::zenodo::{check_orcid, deposit_json, Creator, Deposit};

/// One file of a run, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    /// Outputs: relative to the run directory; inputs: as the run was given it.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 recorded in the manifest.
    pub sha256: String,
}

/// What publish needs of a run (the CLI fills it from the run's
/// `ro-crate-metadata.json`).
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The run's output directory.
    pub dir: PathBuf,
    /// Its provenance manifest (copied into the release).
    pub manifest_file: PathBuf,
    /// Pipeline name, e.g. `voids-publish`.
    pub pipeline: String,
    /// The store's run id, when recorded.
    pub run_id: Option<i64>,
    /// astrolab version that ran it.
    pub software_version: String,
    /// Git commit of that build, when known.
    pub git_commit: Option<String>,
    /// Inputs.
    pub inputs: Vec<RunFile>,
    /// Outputs.
    pub outputs: Vec<RunFile>,
}

/// The release's descriptive options (the CLI flags).
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// Title (Zenodo title, ReadMe title, FITS TITLE).
    pub title: String,
    /// Author, "Family, Given" (AUTHOR, Zenodo creator).
    pub author: String,
    /// The author's affiliation.
    pub affiliation: Option<String>,
    /// The author's ORCID iD.
    pub orcid: Option<String>,
    /// VAC_VERS and the Zenodo version.
    pub vac_version: String,
    /// Licence (Zenodo licence id).
    pub license: String,
    /// Description; default: one generated from the run.
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Release date YYYY-MM-DD; default today (UTC).
    pub date: Option<String>,
    /// HATS partition order.
    pub hats_order: u8,
    /// `--columns` files.
    pub columns_files: Vec<PathBuf>,
    /// `--table`: publish only these EXTNAMEs (empty: every binary table).
    pub tables: Vec<String>,
}

impl ReleaseOptions {
    /// Options with the defaults: version 1.0, CC-BY-4.0, HATS order
    /// [`crate::hats::DEFAULT_ORDER`].
    pub fn new(title: &str, author: &str) -> Self {
        ReleaseOptions {
            title: title.to_string(),
            author: author.to_string(),
            affiliation: None,
            orcid: None,
            vac_version: "1.0".into(),
            license: "cc-by-4.0".into(),
            description: None,
            keywords: Vec::new(),
            date: None,
            hats_order: crate::hats::DEFAULT_ORDER,
            columns_files: Vec::new(),
            tables: Vec::new(),
        }
    }
}

/// One published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// Its name in the release.
    pub name: String,
    /// The run's file and HDU it came from.
    pub source: String,
    /// Rows.
    pub rows: usize,
    /// The HATS catalog, or why there is none.
    pub hats: std::result::Result<HatsSummary, String>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseReport {
    /// The release folder.
    pub dir: PathBuf,
    /// Tables.
    pub tables: Vec<TableReport>,
    /// Every file with its SHA-256, as in SHA256SUMS.
    pub files: Vec<(String, String)>,
}

/// Checks every output of the run against its manifest's SHA-256.
pub fn verify_outputs(run: &RunInfo) -> Result<()> {
    for o in &run.outputs {
        let p = run.dir.join(&o.path);
        if !p.exists() {
            return Err(PublishError::MissingOutput { path: p });
        }
        let actual = sha256_file(&p)?;
        if actual != o.sha256 {
            return Err(PublishError::Tampered {
                path: p,
                expected: o.sha256.clone(),
                actual,
            });
        }
    }
    Ok(())
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn is_fits(p: &Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    n.ends_with(".fits") || n.ends_with(".fits.gz") || n.ends_with(".fit")
}

fn is_csv(p: &Path) -> bool {
    p.to_string_lossy().to_ascii_lowercase().ends_with(".csv")
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The run's tables, named, each with its column documentation.
fn tables_with_docs(
    run: &RunInfo,
    dict: &Dictionary,
    only: &[String],
) -> Result<Vec<(Table, Vec<ColumnDoc>)>> {
    let want = |ext: &str| only.is_empty() || only.iter().any(|t| t.eq_ignore_ascii_case(ext));
    let mut found = Vec::new();
    let mut all = Vec::new();
    for o in run.outputs.iter().filter(|o| is_fits(&o.path)) {
        let ft = read_tables(&run.dir.join(&o.path), &o.path, &want)?;
        found.extend(ft.tables);
        all.extend(
            ft.all
                .into_iter()
                .map(|n| format!("{n} ({})", o.path.display())),
        );
    }
    // A CSV table (most pipelines' tables) goes by its file name's stem,
    // upper case, where a FITS table goes by its EXTNAME.
    for o in run.outputs.iter().filter(|o| is_csv(&o.path)) {
        let stem = o
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_uppercase())
            .unwrap_or_default();
        all.push(format!("{stem} ({})", o.path.display()));
        if want(&stem) {
            found.push((stem, read_csv_table(&run.dir.join(&o.path), &o.path)?));
        }
    }
    if all.is_empty() {
        return Err(PublishError::NoTables {
            run: run.dir.clone(),
        });
    }
    for t in only {
        if !found.iter().any(|(e, _)| e.eq_ignore_ascii_case(t)) {
            return Err(PublishError::Options(format!(
                "--table {t}: the run has no binary table with that EXTNAME; its tables: {}",
                all.join(", ")
            )));
        }
    }
    let mut seen = BTreeSet::new();
    let dup: BTreeSet<String> = found
        .iter()
        .map(|(e, _)| sanitize(e))
        .filter(|e| e.is_empty() || !seen.insert(e.clone()))
        .collect();
    let mut out = Vec::new();
    for (extname, mut t) in found {
        let base = sanitize(&extname);
        let stem = t
            .file
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        let stem = stem.split('.').next().unwrap_or("table").to_string();
        t.name = if base.is_empty() || dup.contains(&base) {
            format!(
                "{}_{}",
                sanitize(&stem),
                if base.is_empty() {
                    sanitize(&t.hdu)
                } else {
                    base
                }
            )
        } else {
            base
        };
        let mut docs = Vec::with_capacity(t.columns.len());
        for c in &t.columns {
            if c.name.eq_ignore_ascii_case(HEALPIX_COLUMN) {
                return Err(PublishError::Unsupported {
                    file: t.file.clone(),
                    hdu: t.hdu.clone(),
                    column: c.name.clone(),
                    reason: format!("{HEALPIX_COLUMN} is the name of the HATS spatial index that publish adds; rename the column"),
                });
            }
            let (doc, _) =
                dict.get(&extname, &c.name)
                    .ok_or_else(|| PublishError::UndocumentedColumn {
                        column: c.name.clone(),
                        file: run.dir.join(&t.file),
                        hdu: t.hdu.clone(),
                    })?;
            docs.push(doc.clone());
        }
        out.push((t, docs));
    }
    Ok(out)
}

/// Keywords of the run's FITS primary headers worth carrying into the
/// catalog (input versions and run settings such as FSF_VERS, VOIDALG,
/// OMEGAM), first occurrence wins.
fn carried_cards(run: &RunInfo, tables: &[(Table, Vec<ColumnDoc>)]) -> Result<Vec<Card>> {
    const SKIP: &[&str] = &[
        "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "AUTHOR", "DATE", "VAC_VERS", "ORIGIN", "COMMENT",
        "HISTORY", "CHECKSUM", "DATASUM", "TITLE", "LICENSE", "RUNPIPE", "RUN_ID", "ASTROVER",
        "GITCOMMT", "", "END",
    ];
    let mut cards = Vec::new();
    let mut keys = BTreeSet::new();
    // A CSV table has no header to carry.
    let files: BTreeSet<&PathBuf> = tables
        .iter()
        .map(|(t, _)| &t.file)
        .filter(|f| is_fits(f))
        .collect();
    for f in files {
        let p = run.dir.join(f);
        let fits = FitsFile::open(&p).map_err(|e| PublishError::Fits {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        for c in fits.hdus()[0].header.cards() {
            if SKIP.contains(&c.key.as_str())
                || c.key.starts_with("NAXIS")
                || matches!(c.value, HeaderValue::None)
            {
                continue;
            }
            if keys.insert(c.key.clone()) {
                cards.push(c.clone());
            }
        }
    }
    Ok(cards)
}

/// Removes a partial release folder when dropped (unless disarmed).
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(p);
        }
    }
}

/// Writes the release of `run` into `to` (new or empty).
pub fn publish(run: &RunInfo, to: &Path, opts: &ReleaseOptions) -> Result<ReleaseReport> {
    if let Ok(mut rd) = fs::read_dir(to) {
        if rd.next().is_some() {
            return Err(PublishError::NotEmpty {
                dir: to.to_path_buf(),
            });
        }
    } else if to.exists() {
        return Err(PublishError::NotEmpty {
            dir: to.to_path_buf(),
        });
    }
    if opts.title.trim().is_empty() || opts.author.trim().is_empty() {
        return Err(PublishError::Options(
            "--title and --author must not be empty".into(),
        ));
    }
    if let Some(o) = &opts.orcid {
        check_orcid(o).map_err(|e| PublishError::Options(format!("--orcid: {e}")))?;
    }
    if opts.hats_order > crate::hats::HEALPIX_ORDER {
        return Err(PublishError::Options(format!(
            "--hats-order {} must be 0 to 29",
            opts.hats_order
        )));
    }
    let date = opts.date.clone().unwrap_or_else(today);
    if time::Date::parse(
        &date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_err()
    {
        return Err(PublishError::Options(format!(
            "--date {date:?} is not YYYY-MM-DD"
        )));
    }
    verify_outputs(run)?;
    let mut dict = Dictionary::builtin();
    for f in &opts.columns_files {
        dict.add_file(f)?;
    }
    let tables = tables_with_docs(run, &dict, &opts.tables)?;

    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(PublishError::io(parent))?;
    let leaf = to
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "release".into());
    let tmp = parent.join(format!(".{leaf}.partial-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(PublishError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(PublishError::io(&tmp))?;
    let mut guard = Partial(Some(tmp.clone()));

    // catalog.fits
    let mut extra = vec![
        Card::str("TITLE", &opts.title).with_comment("Catalog title"),
        Card::str("LICENSE", &opts.license).with_comment("Licence of the catalog"),
        Card::str("RUNPIPE", &run.pipeline).with_comment("astrolab pipeline that made the tables"),
    ];
    if let Some(id) = run.run_id {
        extra.push(Card::int("RUN_ID", id).with_comment("astrolab run id"));
    }
    if let Some(g) = &run.git_commit {
        extra.push(Card::str("GITCOMMT", g).with_comment("git commit of the run's build"));
    }
    extra.extend(carried_cards(run, &tables)?);
    for (i, f) in run.inputs.iter().enumerate().take(99) {
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        extra.push(
            Card::str(&format!("INPUT{}", i + 1), &name).with_comment("input file of the run"),
        );
        extra.push(Card::str(&format!("INSHA{}", i + 1), &f.sha256).with_comment("its SHA-256"));
    }
    let header = VacHeader {
        author: opts.author.clone(),
        date: date.clone(),
        vac_version: opts.vac_version.clone(),
        input_versions: vec![(
            "ASTROVER".into(),
            run.software_version.clone(),
            "astrolab version of the run".into(),
        )],
        extra,
    };
    write_catalog(
        &tmp.join("catalog.fits"),
        vac_primary_cards(&header),
        &tables,
    )?;

    // parquet/
    let pq = tmp.join("parquet");
    fs::create_dir_all(&pq).map_err(PublishError::io(&pq))?;
    for (t, docs) in &tables {
        let batch = record_batch(t, docs, None, None)?;
        write_parquet(
            &pq.join(format!("{}.parquet", t.name)),
            batch.schema(),
            &[batch],
        )?;
    }

    // hats/
    let now = time::OffsetDateTime::now_utc();
    let created = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    let builder = format!("astrolab v{}", env!("CARGO_PKG_VERSION"));
    let mut reports = Vec::new();
    for (t, docs) in &tables {
        let hats = if t.radec().is_some() {
            let o = HatsOptions {
                name: &t.name,
                order: opts.hats_order,
                builder: &builder,
                creation_date: &created,
            };
            Ok(write_hats(&tmp.join("hats").join(&t.name), t, docs, &o)?)
        } else {
            Err("no RA/DEC columns".to_string())
        };
        reports.push(TableReport {
            name: t.name.clone(),
            source: format!("{} HDU {}", t.file.display(), t.hdu),
            rows: t.nrows,
            hats,
        });
    }

    // cds/
    let names: Vec<&str> = tables.iter().map(|(t, _)| t.name.as_str()).collect();
    let description = opts.description.clone().unwrap_or_else(|| {
        format!(
            "{}. Tables {} from the astrolab {} run{}, published with astrolab {}: FITS catalog, Parquet, HATS (tables with sky positions), CDS ReadMe and ASCII tables, the run's provenance manifest and SHA256SUMS.",
            opts.title.trim_end_matches('.'),
            names.join(", "),
            run.pipeline,
            run.run_id.map(|i| format!(" {i}")).unwrap_or_default(),
            env!("CARGO_PKG_VERSION")
        )
    });
    let mut keywords = opts.keywords.clone();
    if keywords.is_empty() {
        keywords = vec!["astronomy".into(), "catalog".into(), run.pipeline.clone()];
    }
    write_cds(
        &tmp.join("cds"),
        &tables,
        &CdsMeta {
            title: &opts.title,
            author: &opts.author,
            description: &description,
            keywords: &keywords,
            date: &date,
        },
    )?;

    // zenodo.json
    let creators = [Creator {
        name: opts.author.clone(),
        affiliation: opts.affiliation.clone(),
        orcid: opts.orcid.clone(),
    }];
    let z = deposit_json(&Deposit {
        title: &opts.title,
        creators: &creators,
        description: &description,
        license: &opts.license,
        version: &opts.vac_version,
        date: &date,
        keywords: &keywords,
        related_urls: &[],
    });
    let zp = tmp.join("zenodo.json");
    let text =
        serde_json::to_string_pretty(&z).map_err(|e| PublishError::Options(e.to_string()))?;
    fs::write(&zp, text + "\n").map_err(PublishError::io(&zp))?;

    // figures/ and provenance/
    for o in &run.outputs {
        let ext = o
            .path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if matches!(ext.as_str(), "png" | "svg" | "pdf") {
            let dst = tmp.join("figures").join(&o.path);
            if let Some(p) = dst.parent() {
                fs::create_dir_all(p).map_err(PublishError::io(p))?;
            }
            fs::copy(run.dir.join(&o.path), &dst).map_err(PublishError::io(&dst))?;
        }
    }
    let prov = tmp.join("provenance");
    fs::create_dir_all(&prov).map_err(PublishError::io(&prov))?;
    let mdst = prov.join("ro-crate-metadata.json");
    fs::copy(&run.manifest_file, &mdst).map_err(PublishError::io(&run.manifest_file))?;

    let files = write_sums(&tmp)?;
    // Into place: an empty --to is replaced by the finished folder.
    if to.exists() {
        fs::remove_dir(to).map_err(PublishError::io(to))?;
    }
    fs::rename(&tmp, to).map_err(PublishError::io(to))?;
    guard.0 = None;
    astrolab_formats::atomic::sync_dir(parent).map_err(PublishError::io(parent))?;
    Ok(ReleaseReport {
        dir: to.to_path_buf(),
        tables: reports,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};

    /// A run directory holding `files` (name, bytes) and its RunInfo.
    fn run_with(dir: &Path, files: &[(&str, Vec<u8>)]) -> RunInfo {
        let run = dir.join("run");
        fs::create_dir_all(&run).unwrap();
        let mut outputs = Vec::new();
        for (name, bytes) in files {
            fs::write(run.join(name), bytes).unwrap();
            outputs.push(RunFile {
                path: PathBuf::from(name),
                sha256: sha256_file(&run.join(name)).unwrap(),
            });
        }
        fs::write(run.join("ro-crate-metadata.json"), "{}").unwrap();
        RunInfo {
            manifest_file: run.join("ro-crate-metadata.json"),
            dir: run,
            pipeline: "test".into(),
            run_id: Some(7),
            software_version: "0.1.0".into(),
            git_commit: None,
            inputs: vec![],
            outputs,
        }
    }

    fn fits_bytes(dir: &Path) -> Vec<u8> {
        let p = dir.join("t.fits");
        write_fits(
            &p,
            &[
                HduOut::Primary { header: vec![] },
                HduOut::Table {
                    extname: Some("T".into()),
                    header: vec![Card::int("TNULL2", -1)],
                    columns: vec![
                        ColumnOut::new("TARGETID", ColumnData::I64(vec![10, 11, 12])),
                        ColumnOut::new("ZWARN", ColumnData::I64(vec![0, -1, 4])),
                        ColumnOut::new("Z", ColumnData::F64(vec![0.5, f64::NAN, 1.25])),
                        ColumnOut::new(
                            "SPECTYPE",
                            ColumnData::Str {
                                width: 6,
                                values: vec!["QSO".into(), "".into(), "GALAXY".into()],
                            },
                        ),
                    ],
                },
            ],
        )
        .unwrap();
        fs::read(&p).unwrap()
    }

    #[test]
    fn nulls_are_blank_in_cds_and_null_in_parquet() {
        let d = tempfile::tempdir().unwrap();
        let bytes = fits_bytes(d.path());
        let run = run_with(d.path(), &[("t.fits", bytes)]);
        let to = d.path().join("rel");
        let r = publish(&run, &to, &ReleaseOptions::new("T", "Doe, Jane")).unwrap();
        assert_eq!(r.tables.len(), 1);
        assert_eq!(r.tables[0].hats, Err("no RA/DEC columns".to_string()));
        let dat = fs::read_to_string(to.join("cds/t.dat")).unwrap();
        assert_eq!(
            dat,
            format!("10 0 0.50 QSO   \n11{}\n12 4 1.25 GALAXY\n", " ".repeat(14))
        );
        let readme = fs::read_to_string(to.join("cds/ReadMe")).unwrap();
        assert!(readme.contains(" ZWARN    ? Redshift warning"), "{readme}");
        assert!(readme.contains(" TARGETID DESI unique"), "{readme}");
        // Parquet: ZWARN's TNULL is a null.
        let f = fs::File::open(to.join("parquet/t.parquet")).unwrap();
        let mut rd =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(f, 1024).unwrap();
        let b = rd.next().unwrap().unwrap();
        assert_eq!(b.column_by_name("ZWARN").unwrap().null_count(), 1);
        assert_eq!(
            b.schema().field_with_name("Z").unwrap().metadata()["unit"],
            "---"
        );
        // The catalog keeps the null as TNULL.
        let cat = FitsFile::open(&to.join("catalog.fits")).unwrap();
        let t = cat.table("T").unwrap();
        assert_eq!(t.read_i64_opt("ZWARN").unwrap(), [Some(0), None, Some(4)]);
        assert_eq!(cat.hdus()[0].header.get_i64("RUN_ID"), Some(7));
    }

    #[test]
    fn a_csv_table_is_published() {
        let d = tempfile::tempdir().unwrap();
        let run = run_with(
            d.path(),
            &[(
                "cone.csv",
                b"targetid,ra,dec,z\n39632889037455465,178.5,30.25,0.125\n7,180.0,29.5,\n".to_vec(),
            )],
        );
        let to = d.path().join("rel");
        publish(&run, &to, &ReleaseOptions::new("Cone", "Doe, Jane")).unwrap();
        let cat = FitsFile::open(&to.join("catalog.fits")).unwrap();
        let t = cat.table("CONE").unwrap();
        assert_eq!(t.read_i64("targetid").unwrap(), [39632889037455465, 7]);
        assert_eq!(t.read_f64("ra").unwrap(), [178.5, 180.0]);
        let z = t.read_f64("z").unwrap();
        assert!(z[0] == 0.125 && z[1].is_nan());
        assert_eq!(t.column("dec").unwrap().unit.as_deref(), Some("deg"));
        assert!(to.join("hats/cone/properties").exists());
        assert_eq!(
            fs::read_to_string(to.join("cds/cone.dat"))
                .unwrap()
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        let opts = ReleaseOptions::new("T", "Doe, Jane");
        // A run without tables (a CSV table is one: see
        // a_csv_table_is_published).
        let run = run_with(d.path(), &[("cone.json", b"{\"ra\": 1}\n".to_vec())]);
        let e = publish(&run, &d.path().join("a"), &opts).unwrap_err();
        assert!(matches!(e, PublishError::NoTables { .. }), "{e}");
        assert!(!d.path().join("a").exists());
        // A missing output.
        fs::remove_file(run.dir.join("cone.json")).unwrap();
        let e = publish(&run, &d.path().join("a"), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cone.json") && e.contains("missing"), "{e}");
        // --to is a file.
        fs::write(d.path().join("f"), "x").unwrap();
        let e = publish(&run, &d.path().join("f"), &opts).unwrap_err();
        assert!(matches!(e, PublishError::NotEmpty { .. }), "{e}");
        // A bad ORCID and a bad date.
        let mut o = opts.clone();
        o.orcid = Some("0000-0002-1825-0098".into());
        assert!(publish(&run, &d.path().join("b"), &o)
            .unwrap_err()
            .to_string()
            .contains("--orcid"));
        let mut o = opts.clone();
        o.date = Some("2026-13-01".into());
        assert!(publish(&run, &d.path().join("b"), &o)
            .unwrap_err()
            .to_string()
            .contains("--date"));
        // Nothing half-written anywhere.
        let names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
    }
}
