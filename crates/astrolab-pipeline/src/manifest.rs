//! The provenance manifest of one pipeline run, written beside its outputs as
//! an RO-Crate 1.1 `ro-crate-metadata.json` following the Workflow Run Crate
//! family's Process Run Crate profile (<https://w3id.org/ro/wfrun/process/0.5>).
//!
//! The crate describes the run with the profile's entities (a
//! `SoftwareApplication` for astrolab, a `CreateAction` with `instrument`,
//! `object` = inputs and parameters, `result` = outputs), so generic RO-Crate
//! tools can read it. The `CreateAction` also carries astrolab's own
//! [`RunManifest`] verbatim as JSON text (`astrolabManifest`): that is
//! what [`read_manifest`] returns, so a round trip is exact and does not
//! depend on how other tools might rewrite the descriptive entities.
//!
//! Outputs may declare [`Volatile`] fields (a FITS `DATE` card, a JSON
//! timestamp, a "# written at" line) that legitimately change between runs;
//! [`normalised_bytes`] blanks or drops them so two runs compare equal.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::fits;
use crate::hash::{sha256_file, HashError};

/// File name of the manifest inside a run's output directory (fixed by the
/// RO-Crate specification).
pub const METADATA_FILE: &str = "ro-crate-metadata.json";
/// The Process Run Crate profile this crate conforms to (versioned permalink).
pub const PROCESS_RUN_CRATE: &str = "https://w3id.org/ro/wfrun/process/0.5";
/// The RO-Crate specification version the metadata descriptor conforms to.
pub const RO_CRATE_1_1: &str = "https://w3id.org/ro/crate/1.1";
/// The RO-Crate 1.1 JSON-LD context.
pub const RO_CRATE_CONTEXT: &str = "https://w3id.org/ro/crate/1.1/context";
/// The workflow-run terms' context, which the profile's examples add.
const WFRUN_CONTEXT: &str = "https://w3id.org/ro/terms/workflow-run/context";
/// Namespace of astrolab's extension terms; follows the workspace's
/// `repository` URL so the two change together.
pub const ASTROLAB_TERMS: &str = "https://example.invalid/astrolab/terms#";
/// Homepage of the software, as the workspace declares it.
const ASTROLAB_URL: &str = "https://example.invalid/astrolab";
/// `@id` of the SoftwareApplication entity.
const SOFTWARE_ID: &str = "#astrolab";

/// Everything needed to say what a run did and to re-run and check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Pipeline name, e.g. `"voids find"`.
    pub pipeline: String,
    /// The resolved parameters, defaults included (the pipeline's typed
    /// parameters serialised), so a re-run needs nothing else.
    pub parameters: Value,
    /// Files read, with the paths as the run was given them.
    pub inputs: Vec<FileEntry>,
    /// Files written, with paths relative to the run's output directory.
    pub outputs: Vec<FileEntry>,
    /// The build that ran.
    pub software: Software,
    /// How the pipeline was executed, e.g. `"in-process"`, `"subprocess"`.
    pub executor: String,
    /// Worker threads, when the pipeline uses a fixed number.
    pub threads: Option<u32>,
    /// Host name of the machine that ran it.
    pub host: String,
    /// When the run started (written as RFC 3339; callers pass UTC).
    #[serde(with = "rfc3339")]
    pub start_time: OffsetDateTime,
    /// When the last output was written.
    #[serde(with = "rfc3339")]
    pub end_time: OffsetDateTime,
    /// The run's id in the store's run table, when it was recorded there.
    pub run_id: Option<i64>,
    /// Who asked for the run (a name, or an ORCID URL), when known.
    pub submitter: Option<String>,
    /// Licence of the outputs (SPDX id such as `CC-BY-4.0`, or a URL), when
    /// the lab has set one; written as the crate's `license`.
    #[serde(default)]
    pub license: Option<String>,
}

/// One input or output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Inputs: the path as the run was given it (prefer absolute paths: a
    /// relative one is resolved against the re-run's working directory).
    /// Outputs: the path relative to the run's output directory.
    pub path: PathBuf,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Lower-case hexadecimal SHA-256 of the content.
    pub sha256: String,
    /// The store's `raw_files` id of an input, when it was ingested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_file_id: Option<i64>,
    /// Fields of an output that legitimately change between runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volatile: Vec<Volatile>,
}

impl FileEntry {
    /// Entry for an input file, hashed now; `path` is kept as given.
    pub fn input(path: &Path, raw_file_id: Option<i64>) -> Result<Self, HashError> {
        let (size_bytes, sha256) = sha256_file(path)?;
        Ok(FileEntry {
            path: path.to_path_buf(),
            size_bytes,
            sha256,
            raw_file_id,
            volatile: Vec::new(),
        })
    }

    /// Entry for the output `out_dir/relative`, hashed now.
    pub fn output(
        out_dir: &Path,
        relative: &Path,
        volatile: Vec<Volatile>,
    ) -> Result<Self, HashError> {
        let (size_bytes, sha256) = sha256_file(&out_dir.join(relative))?;
        Ok(FileEntry {
            path: relative.to_path_buf(),
            size_bytes,
            sha256,
            raw_file_id: None,
            volatile,
        })
    }
}

/// A field of an output file whose value legitimately changes between runs,
/// excluded when outputs are compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Volatile {
    /// A FITS header card whose value changes (e.g. `DATE`): columns 11-80
    /// of every card with this keyword in HDU `hdu` (0 = primary) are blanked.
    FitsKeyword {
        /// HDU index, 0 for the primary HDU (astropy's numbering).
        hdu: usize,
        /// Card keyword, e.g. `"DATE"`.
        keyword: String,
    },
    /// A JSON document's field, as an RFC 6901 pointer (e.g.
    /// `"/written_at"`): removed from objects, set to null in arrays (so
    /// later elements keep their indices). A `*` segment (our extension)
    /// stands for every element or member at that level, e.g.
    /// `"/outcomes/*/file/ingested_at"`.
    JsonPointer(String),
    /// Text lines starting with this prefix (e.g. `"# written at"`) are dropped.
    LinePrefix(String),
}

/// The software that ran: astrolab's build-time facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    /// Always `"astrolab"` for runs of this workspace.
    pub name: String,
    /// Package version, e.g. `"0.1.0"`.
    pub version: String,
    /// Git commit the binary was built from, when known.
    pub git_commit: Option<String>,
    /// SHA-256 of the `Cargo.lock` it was built with, when known: pins every
    /// dependency's version.
    pub cargo_lock_sha256: Option<String>,
    /// Cargo profile, `"release"` or `"debug"`.
    pub profile: String,
    /// Target triple, e.g. `"x86_64-unknown-linux-gnu"`.
    pub target: String,
}

impl Software {
    /// astrolab as built: the binary passes its build-time values (e.g.
    /// `env!("CARGO_PKG_VERSION")` and values its build script exports).
    pub fn current(
        version: &str,
        git_commit: Option<&str>,
        cargo_lock_sha256: Option<&str>,
        profile: &str,
        target: &str,
    ) -> Self {
        Software {
            name: "astrolab".to_string(),
            version: version.to_string(),
            git_commit: git_commit.map(str::to_string),
            cargo_lock_sha256: cargo_lock_sha256.map(str::to_string),
            profile: profile.to_string(),
            target: target.to_string(),
        }
    }
}

/// This machine's host name (from the kernel), or `"unknown"` when it cannot
/// be read: a manifest should still be written then.
pub fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Why a manifest could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Writing the manifest (or its temporary file) failed.
    #[error("cannot write the run manifest {path}: {source}; check that the output directory exists, is writable and has free space")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Reading the manifest failed.
    #[error("cannot read the run manifest {path}: {source}; check the path (a run's output directory or its {METADATA_FILE})")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The manifest file is not JSON.
    #[error("the run manifest {path} is not valid JSON: {source}; it is damaged: restore it from a copy or run the pipeline anew")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// The JSON is not a crate astrolab wrote, or its manifest field is wrong.
    #[error("{path} is not an astrolab run crate: {reason}; only crates written by astrolab carry the run manifest")]
    NotAstrolabCrate {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong (names the field).
        reason: String,
    },
    /// An output path cannot be described inside the crate.
    #[error(
        "output path {path} {reason}; outputs must be given relative to the run's output directory"
    )]
    InvalidOutputPath {
        /// The offending path.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// A path is not UTF-8, which JSON cannot carry.
    #[error(
        "path {path} is not valid UTF-8 and cannot be recorded in a JSON manifest; rename the file"
    )]
    NonUtf8Path {
        /// The offending path.
        path: PathBuf,
    },
}

/// Why an output's volatile fields could not be normalised.
#[derive(Debug, thiserror::Error)]
pub enum VolatileError {
    /// Reading the file failed.
    #[error("cannot read {path} to normalise its volatile fields: {source}; check that the file exists and is readable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A FITS keyword is declared volatile but the file is not valid FITS.
    #[error("{path}: HDU {hdu}: {reason}; the file is not valid FITS, so its volatile header cards cannot be located: check that the output is complete")]
    Fits {
        /// The file.
        path: PathBuf,
        /// HDU index (0 = primary).
        hdu: usize,
        /// What is wrong.
        reason: String,
    },
    /// A JSON pointer is declared volatile but the file is not JSON.
    #[error("{path} is not valid JSON, so its volatile fields cannot be removed: {source}; check that the output is complete")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A declared JSON pointer is malformed.
    #[error("{path}: volatile JSON pointer {pointer:?} is not an RFC 6901 pointer (it must be empty or start with '/'); fix the pipeline's volatile declaration")]
    BadPointer {
        /// The file.
        path: PathBuf,
        /// The pointer.
        pointer: String,
    },
    /// Volatile declarations of different kinds on one file.
    #[error("{path} declares volatile fields of different kinds (FITS, JSON, text); a file is one format: fix the pipeline's volatile declaration")]
    Mixed {
        /// The file.
        path: PathBuf,
    },
}

/// How a file's volatile fields are found: one format per file.
pub(crate) enum Mode<'a> {
    /// No volatile fields: raw bytes.
    Raw,
    /// FITS cards (hdu, keyword).
    Fits(Vec<(usize, &'a str)>),
    /// JSON pointers.
    Json(Vec<&'a str>),
    /// Text line prefixes.
    Lines(Vec<&'a str>),
}

/// Sorts a file's volatile declarations into one [`Mode`].
pub(crate) fn mode<'a>(path: &Path, volatile: &'a [Volatile]) -> Result<Mode<'a>, VolatileError> {
    let mut m = Mode::Raw;
    for v in volatile {
        m = match (m, v) {
            (Mode::Raw, Volatile::FitsKeyword { hdu, keyword }) => {
                Mode::Fits(vec![(*hdu, keyword)])
            }
            (Mode::Fits(mut f), Volatile::FitsKeyword { hdu, keyword }) => {
                f.push((*hdu, keyword));
                Mode::Fits(f)
            }
            (Mode::Raw, Volatile::JsonPointer(p)) => Mode::Json(vec![p]),
            (Mode::Json(mut j), Volatile::JsonPointer(p)) => {
                j.push(p);
                Mode::Json(j)
            }
            (Mode::Raw, Volatile::LinePrefix(p)) => Mode::Lines(vec![p]),
            (Mode::Lines(mut l), Volatile::LinePrefix(p)) => {
                l.push(p);
                Mode::Lines(l)
            }
            _ => {
                return Err(VolatileError::Mixed {
                    path: path.to_path_buf(),
                })
            }
        };
    }
    Ok(m)
}

/// The content of `path` with its volatile fields neutralised: FITS cards'
/// values blanked (same length, so offsets still match the file), JSON
/// fields removed (the document re-serialised, pretty-printed), text lines
/// dropped. Reads the whole file: for large outputs
/// [`crate::reproduce::compare_outputs`] streams instead.
pub fn normalised_bytes(path: &Path, volatile: &[Volatile]) -> Result<Vec<u8>, VolatileError> {
    let io_err = |source| VolatileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let m = mode(path, volatile)?;
    let mut bytes = fs::read(path).map_err(io_err)?;
    match m {
        Mode::Raw => Ok(bytes),
        Mode::Fits(cards) => {
            let len = bytes.len() as u64;
            let hdus =
                fits::scan(&mut io::Cursor::new(&bytes), len).map_err(|e| fits_error(path, e))?;
            for (start, end) in fits_blank_ranges(&hdus, &cards) {
                // Ranges come from the scan of these very bytes: in bounds.
                bytes[start as usize..end as usize].fill(b' ');
            }
            Ok(bytes)
        }
        Mode::Json(pointers) => {
            let value = normalised_json(path, &bytes, &pointers)?;
            // Serialising a Value to memory cannot fail (string keys only).
            Ok(serde_json::to_vec_pretty(&value).unwrap_or_default())
        }
        Mode::Lines(prefixes) => Ok(bytes
            .split_inclusive(|&b| b == b'\n')
            .filter(|line| !line_is_volatile(line, &prefixes))
            .flatten()
            .copied()
            .collect()),
    }
}

/// Converts a FITS walk error into a [`VolatileError`] naming `path`.
pub(crate) fn fits_error(path: &Path, e: fits::FitsError) -> VolatileError {
    match e {
        fits::FitsError::Io(source) => VolatileError::Io {
            path: path.to_path_buf(),
            source,
        },
        fits::FitsError::Invalid { hdu, reason } => VolatileError::Fits {
            path: path.to_path_buf(),
            hdu,
            reason,
        },
    }
}

/// Byte ranges to blank for the declared (hdu, keyword) cards, sorted.
pub(crate) fn fits_blank_ranges(hdus: &[fits::Hdu], cards: &[(usize, &str)]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = cards
        .iter()
        .flat_map(|(hdu, kw)| fits::value_ranges(hdus, *hdu, kw))
        .collect();
    ranges.sort_unstable();
    ranges
}

/// Whether a text line is volatile (starts with one of the prefixes).
pub(crate) fn line_is_volatile(line: &[u8], prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| line.starts_with(p.as_bytes()))
}

/// Parses `bytes` as JSON and removes the fields at `pointers`.
pub(crate) fn normalised_json(
    path: &Path,
    bytes: &[u8],
    pointers: &[&str],
) -> Result<Value, VolatileError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|source| VolatileError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    for p in pointers {
        remove_pointer(&mut value, p).ok_or_else(|| VolatileError::BadPointer {
            path: path.to_path_buf(),
            pointer: p.to_string(),
        })?;
    }
    Ok(value)
}

/// Removes the field at `pointer`; `None` when the pointer is malformed.
/// A pointer to nothing is not an error: the field may be absent in both runs.
fn remove_pointer(value: &mut Value, pointer: &str) -> Option<()> {
    if pointer.is_empty() {
        *value = Value::Null;
        return Some(());
    }
    let rest = pointer.strip_prefix('/')?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    remove_segments(value, &segments);
    Some(())
}

/// Removes what `segments` name below `value` (`*` matching every child).
fn remove_segments(value: &mut Value, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Value::Object(map) if first == "*" => map.clear(),
            Value::Object(map) => {
                map.remove(first);
            }
            Value::Array(items) if first == "*" => items.iter_mut().for_each(|i| *i = Value::Null),
            Value::Array(items) => {
                if let Some(item) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    *item = Value::Null;
                }
            }
            _ => {}
        }
        return;
    }
    match value {
        Value::Object(map) if first == "*" => {
            map.values_mut().for_each(|v| remove_segments(v, rest))
        }
        Value::Object(map) => {
            if let Some(v) = map.get_mut(first) {
                remove_segments(v, rest);
            }
        }
        Value::Array(items) if first == "*" => {
            items.iter_mut().for_each(|v| remove_segments(v, rest))
        }
        Value::Array(items) => {
            if let Some(v) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                remove_segments(v, rest);
            }
        }
        _ => {}
    }
}

/// The RO-Crate JSON-LD document describing `m` (what [`write_manifest`]
/// writes).
pub fn to_ro_crate(m: &RunManifest) -> Result<Value, ManifestError> {
    let action_id = match m.run_id {
        Some(id) => format!("#run-{id}"),
        None => "#run".to_string(),
    };
    let end = rfc3339_string(&m.end_time);
    let start = rfc3339_string(&m.start_time);
    let mut graph = Vec::new();

    graph.push(json!({
        "@id": METADATA_FILE,
        "@type": "CreativeWork",
        "conformsTo": {"@id": RO_CRATE_1_1},
        "about": {"@id": "./"},
    }));

    // Outputs: data entities inside the crate, ids are their relative paths.
    let mut output_refs = Vec::new();
    let mut output_entities = Vec::new();
    for (i, o) in m.outputs.iter().enumerate() {
        let id = output_id(&o.path)?;
        if m.outputs[..i].iter().any(|p| p.path == o.path) {
            return Err(ManifestError::InvalidOutputPath {
                path: o.path.clone(),
                reason: "is listed twice",
            });
        }
        output_refs.push(json!({"@id": id}));
        let mut e = json!({
            "@id": id,
            "@type": "File",
            "name": file_name(&o.path),
            "contentSize": o.size_bytes.to_string(),
            "sha256": o.sha256,
        });
        if !o.volatile.is_empty() {
            // JSON text, not a nested object: RO-Crate readers take every
            // nested object for a reference to another entity.
            e["volatileFields"] =
                Value::String(serde_json::to_string(&o.volatile).unwrap_or_default());
        }
        output_entities.push(e);
    }

    let mut root = json!({
        "@id": "./",
        "@type": "Dataset",
        "conformsTo": {"@id": PROCESS_RUN_CRATE},
        "name": match m.run_id {
            Some(id) => format!("astrolab {} run {id}", m.pipeline),
            None => format!("astrolab {} run", m.pipeline),
        },
        "description": format!(
            "Outputs of the astrolab pipeline `{}`, with the provenance of the run that wrote them.",
            m.pipeline
        ),
        "datePublished": end,
        "hasPart": output_refs,
        "mentions": [{"@id": action_id}],
    });
    let license_id = m.license.as_ref().map(|l| {
        if l.contains("://") {
            l.clone()
        } else {
            format!("https://spdx.org/licenses/{l}")
        }
    });
    if let Some(l) = &license_id {
        root["license"] = json!({"@id": l});
    }
    graph.push(root);
    graph.push(json!({
        "@id": PROCESS_RUN_CRATE,
        "@type": "CreativeWork",
        "name": "Process Run Crate",
        "version": "0.5",
    }));
    if let (Some(id), Some(l)) = (&license_id, &m.license) {
        graph.push(json!({"@id": id, "@type": "CreativeWork", "name": l}));
    }

    // The software, with the build facts as PropertyValues.
    let s = &m.software;
    let facts: Vec<(&str, Option<&str>)> = vec![
        ("git_commit", s.git_commit.as_deref()),
        ("cargo_lock_sha256", s.cargo_lock_sha256.as_deref()),
        ("profile", Some(s.profile.as_str())),
        ("target", Some(s.target.as_str())),
    ];
    let mut fact_refs = Vec::new();
    let mut fact_entities = Vec::new();
    for (name, value) in facts {
        if let Some(v) = value {
            let id = format!("{SOFTWARE_ID}-{}", name.replace('_', "-"));
            fact_refs.push(json!({"@id": id}));
            fact_entities.push(json!({
                "@id": id,
                "@type": "PropertyValue",
                "name": name,
                "value": v,
            }));
        }
    }
    graph.push(json!({
        "@id": SOFTWARE_ID,
        "@type": "SoftwareApplication",
        "name": s.name,
        "url": ASTROLAB_URL,
        "version": s.version,
        "additionalProperty": fact_refs,
    }));
    graph.extend(fact_entities);

    // Inputs live outside the crate: local ids, the original path kept in
    // `alternateName` as the profile asks for renamed entities.
    let mut object_refs = Vec::new();
    let mut object_entities = Vec::new();
    for (i, f) in m.inputs.iter().enumerate() {
        let path = utf8(&f.path)?;
        let id = format!("#input-{}", i + 1);
        object_refs.push(json!({"@id": id}));
        let mut e = json!({
            "@id": id,
            "@type": "File",
            "name": file_name(&f.path),
            "alternateName": path,
            "contentSize": f.size_bytes.to_string(),
            "sha256": f.sha256,
        });
        if let Some(r) = f.raw_file_id {
            e["rawFileId"] = json!(r);
        }
        object_entities.push(e);
    }
    // Parameters as PropertyValues: scalars as they are, structures as JSON
    // text (schema.org values are text, numbers or booleans).
    let params: Vec<(String, &Value)> = match &m.parameters {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Null => Vec::new(),
        other => vec![("parameters".to_string(), other)],
    };
    for (k, v) in params {
        let id = format!("#param-{}", percent_encode(&k));
        object_refs.push(json!({"@id": id}));
        let value = match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
            _ => Value::String(v.to_string()),
        };
        object_entities.push(json!({
            "@id": id,
            "@type": "PropertyValue",
            "name": k,
            "value": value,
        }));
    }

    let mut description = format!("astrolab {} ({} executor", m.pipeline, m.executor);
    if let Some(t) = m.threads {
        description.push_str(&format!(", {t} threads"));
    }
    description.push_str(&format!(") on host {}", m.host));
    let mut action = json!({
        "@id": action_id,
        "@type": "CreateAction",
        "name": format!("astrolab {}", m.pipeline),
        "description": description,
        "instrument": {"@id": SOFTWARE_ID},
        "object": object_refs,
        "result": m.outputs.iter().map(|o| output_id(&o.path).map(|id| json!({"@id": id})))
            .collect::<Result<Vec<_>, _>>()?,
        "startTime": start,
        "endTime": end,
        "executor": m.executor,
        "hostName": m.host,
    });
    if let Some(t) = m.threads {
        action["threads"] = json!(t);
    }
    if let Some(id) = m.run_id {
        action["runId"] = json!(id);
    }
    let agent = m.submitter.as_ref().map(|who| {
        let id = if who.starts_with("https://orcid.org/") {
            who.clone()
        } else {
            "#submitter".to_string()
        };
        action["agent"] = json!({"@id": id});
        json!({"@id": id, "@type": "Person", "name": who})
    });
    // The exact manifest, for read_manifest: validate paths first so the
    // embedded copy never holds something the entities could not.
    for f in m.inputs.iter().chain(&m.outputs) {
        utf8(&f.path)?;
    }
    // Embedded as JSON text, not a nested object: RO-Crate readers (e.g.
    // the Python `rocrate`) take every nested object for an entity reference.
    action["astrolabManifest"] = serde_json::to_string(m).map(Value::String).map_err(|e| {
        ManifestError::NotAstrolabCrate {
            path: PathBuf::from(METADATA_FILE),
            reason: format!("the manifest cannot be serialised: {e}"),
        }
    })?;
    graph.push(action);
    graph.extend(object_entities);
    graph.extend(output_entities);
    graph.extend(agent);

    Ok(json!({
        "@context": [
            RO_CRATE_CONTEXT,
            WFRUN_CONTEXT,
            {
                "astrolab": ASTROLAB_TERMS,
                "astrolabManifest": format!("{ASTROLAB_TERMS}manifest"),
                "volatileFields": format!("{ASTROLAB_TERMS}volatileFields"),
                "rawFileId": format!("{ASTROLAB_TERMS}rawFileId"),
                "executor": format!("{ASTROLAB_TERMS}executor"),
                "threads": format!("{ASTROLAB_TERMS}threads"),
                "hostName": format!("{ASTROLAB_TERMS}hostName"),
                "runId": format!("{ASTROLAB_TERMS}runId"),
            }
        ],
        "@graph": graph,
    }))
}

/// Writes `out_dir/ro-crate-metadata.json` for `m` atomically: a temporary
/// file in the same directory, fsync, rename, fsync of the directory. A
/// reader never sees a half-written manifest, and after a crash either the
/// old one or the new one is there. Returns the manifest's path.
pub fn write_manifest(out_dir: &Path, m: &RunManifest) -> Result<PathBuf, ManifestError> {
    let target = out_dir.join(METADATA_FILE);
    let crate_json = to_ro_crate(m)?;
    // Serialising a Value to memory cannot fail (string keys only).
    let mut text = serde_json::to_vec_pretty(&crate_json).unwrap_or_default();
    text.push(b'\n');
    astrolab_formats::atomic::write(&target, &text).map_err(|source| ManifestError::Write {
        path: target.clone(),
        source,
    })?;
    Ok(target)
}

/// Reads the run manifest from a crate written by [`write_manifest`]: `path`
/// is the run's output directory or its `ro-crate-metadata.json`.
pub fn read_manifest(path: &Path) -> Result<RunManifest, ManifestError> {
    let file = if path.is_dir() {
        path.join(METADATA_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = fs::read(&file).map_err(|source| ManifestError::Read {
        path: file.clone(),
        source,
    })?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json {
        path: file.clone(),
        source,
    })?;
    let not_ours = |reason: String| ManifestError::NotAstrolabCrate {
        path: file.clone(),
        reason,
    };
    let graph = doc
        .get("@graph")
        .and_then(Value::as_array)
        .ok_or_else(|| not_ours("it has no `@graph` array".to_string()))?;
    let embedded = graph
        .iter()
        .filter(|e| has_type(e, "CreateAction"))
        .find_map(|e| e.get("astrolabManifest"))
        .ok_or_else(|| not_ours("no CreateAction entity carries `astrolabManifest`".to_string()))?;
    let text = embedded
        .as_str()
        .ok_or_else(|| not_ours("its `astrolabManifest` field is not a JSON text".to_string()))?;
    serde_json::from_str(text)
        .map_err(|e| not_ours(format!("its `astrolabManifest` field is wrong: {e}")))
}

/// Whether a JSON-LD entity has `t` among its `@type`s.
fn has_type(e: &Value, t: &str) -> bool {
    match e.get("@type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    }
}

/// The crate `@id` of an output: its relative path, URI-encoded. Also the
/// check that an output path stays inside the output directory.
pub(crate) fn output_id(path: &Path) -> Result<String, ManifestError> {
    let bad = |reason| ManifestError::InvalidOutputPath {
        path: path.to_path_buf(),
        reason,
    };
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => {
                let s = s.to_str().ok_or_else(|| ManifestError::NonUtf8Path {
                    path: path.to_path_buf(),
                })?;
                parts.push(percent_encode(s));
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("leaves the output directory ('..')")),
            Component::RootDir | Component::Prefix(_) => return Err(bad("is absolute")),
        }
    }
    if parts.is_empty() {
        return Err(bad("is empty"));
    }
    let id = parts.join("/");
    if id == METADATA_FILE {
        return Err(bad("is the manifest itself"));
    }
    Ok(id)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, as
/// RO-Crate asks for data entity ids (applied to each path segment; the
/// server's OpenID Connect requests use it too).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn utf8(path: &Path) -> Result<&str, ManifestError> {
    path.to_str().ok_or_else(|| ManifestError::NonUtf8Path {
        path: path.to_path_buf(),
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

fn rfc3339_string(t: &OffsetDateTime) -> String {
    // Every OffsetDateTime in years 0-9999 formats; later ones cannot be
    // RFC 3339 at all, and a manifest is still better than none.
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Serde for `OffsetDateTime` as RFC 3339 text, without `time`'s serde
/// feature.
mod rfc3339 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|e| D::Error::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_ids() {
        assert_eq!(output_id(Path::new("a b/c.fits")).unwrap(), "a%20b/c.fits");
        assert_eq!(output_id(Path::new("./x.json")).unwrap(), "x.json");
        assert!(output_id(Path::new("../x")).is_err());
        assert!(output_id(Path::new("/abs/x")).is_err());
        assert!(output_id(Path::new(METADATA_FILE)).is_err());
    }

    #[test]
    fn json_pointer_removal() {
        let mut v = json!({"a": {"b/c": 1, "d": 2}, "l": [1, 2, 3]});
        remove_pointer(&mut v, "/a/b~1c").unwrap();
        remove_pointer(&mut v, "/l/1").unwrap();
        remove_pointer(&mut v, "/absent/x").unwrap();
        assert_eq!(v, json!({"a": {"d": 2}, "l": [1, null, 3]}));
        assert!(remove_pointer(&mut v, "a").is_none());
    }
}
