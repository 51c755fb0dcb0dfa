//! The science routes through the router: a real DESI spectrum (shared
//! data) read back as JSON and plotted, void statistics against
//! astrolab_voids on the same arrays, and a synthetic 21 cm recording whose
//! line the fit recovers at its true velocity; restricted recordings are
//! 404 to outsiders.

use std::path::PathBuf;

use astrolab_server::{app, build_state, ServerConfig};
use astrolab_store::{
    HlineRecording, HlineSpectrumRow, IngestOptions, Progress, Role, SpectraFileRecord, Store,
    StoreConfig, Visibility,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

mod common;
use common::{write_fastspec, write_voidfinder_membership};

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    app: Router,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let state = build_state(
        ServerConfig::defaults(home.clone(), PathBuf::from("astrolab")),
        StoreConfig::sqlite(&home),
    )
    .unwrap();
    Env {
        _dir: dir,
        app: app(state),
        home,
    }
}

impl Env {
    fn store(&self) -> Store {
        Store::open(&StoreConfig::sqlite(&self.home)).unwrap()
    }

    /// A user with an API token.
    fn token(&self, name: &str, role: Role, projects: &[&str]) -> String {
        common::api_token(&mut self.store(), name, role, projects)
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, ct, body.to_vec())
    }

    async fn json(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (st, _, body) = self.get(uri, token).await;
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body))
        });
        (st, v)
    }
}

/// Well-formedness of an XML document: tags nest and close, attributes
/// are quoted, text holds only the five predefined entities. Enough for
/// our hand-written SVG; returns the element names in document order.
fn xml_elements(doc: &str) -> Result<Vec<String>, String> {
    let b = doc.as_bytes();
    let (mut i, mut stack, mut names) = (0usize, Vec::<String>::new(), Vec::new());
    let check_text = |t: &str| -> Result<(), String> {
        let mut rest = t;
        while let Some(k) = rest.find('&') {
            let end = rest[k..]
                .find(';')
                .ok_or(format!("unterminated entity in {t:?}"))?;
            let ent = &rest[k + 1..k + end];
            if !["amp", "lt", "gt", "quot", "apos"].contains(&ent) && !ent.starts_with('#') {
                return Err(format!("unknown entity &{ent};"));
            }
            rest = &rest[k + end + 1..];
        }
        if t.contains('<') || t.contains('>') {
            return Err(format!("raw angle bracket in {t:?}"));
        }
        Ok(())
    };
    while i < b.len() {
        if b[i] != b'<' {
            let j = doc[i..].find('<').map_or(b.len(), |k| i + k);
            check_text(&doc[i..j])?;
            i = j;
            continue;
        }
        // A tag: find its end outside quotes.
        let (mut j, mut quote) = (i + 1, None::<u8>);
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'"' | b'\'') => quote = Some(b[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            j += 1;
        }
        if j >= b.len() {
            return Err("unterminated tag".into());
        }
        let tag = &doc[i + 1..j];
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else if !tag.starts_with('?') && !tag.starts_with('!') {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            // Attribute values: name="..." pairs, quoted, entity-clean.
            let mut rest = body[name.len()..].trim();
            while !rest.is_empty() {
                let eq = rest
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let q = rest[eq + 1..].chars().next().ok_or("missing value")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute in <{name}>"));
                }
                let end = rest[eq + 2..].find(q).ok_or("unterminated attribute")? + eq + 2;
                check_text(&rest[eq + 2..end])?;
                rest = rest[end + 1..].trim();
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        i = j + 1;
    }
    if stack.is_empty() {
        Ok(names)
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[tokio::test]
async fn science_spectrum_json_and_plot_match_the_file() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("science_spectrum") else {
        return;
    };
    let e = env();
    let token = e.token("viewer", Role::Viewer, &[]);
    // The spectral store as `spectra build` makes it: a real DESI coadd
    // with its redrock redshifts.
    let coadd = data.join("desi/coadd-special-dark-27247.fits");
    let redrock = data.join("desi/redrock-special-dark-27247.fits");
    let (meta, rows) = astrolab_spectra::convert_coadd(&coadd, Some(&redrock), |_| true).unwrap();
    let path = e.home.join("spectra/special/dark/27247.parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    astrolab_spectra::write_spectra_file(&path, &meta, &rows).unwrap();
    let file = astrolab_spectra::SpectraFile::open(&path).unwrap();
    let ids = file.target_ids().unwrap();
    assert!(!ids.is_empty());
    let index: Vec<(i64, usize, f64)> = ids
        .iter()
        .enumerate()
        .map(|(r, t)| (*t, r, f64::NAN))
        .collect();
    // Registers the file in the spectra index with this `sources` list.
    let register = |store: &mut Store, sources: String| {
        store
            .register_spectra_file(
                &SpectraFileRecord {
                    spectra_file_id: 0,
                    path: path.display().to_string(),
                    survey: meta.survey.clone(),
                    program: meta.program.clone(),
                    healpix: meta.healpix.unwrap_or(-1),
                    n_spectra: ids.len() as i64,
                    size_bytes: 0,
                    sources,
                    built_at: "2026-01-01T00:00:00Z".into(),
                    software_version: "test".into(),
                },
                &index,
            )
            .unwrap();
    };
    register(
        &mut e.store(),
        serde_json::to_string(&meta.source_files).unwrap(),
    );
    let row = ids.len() - 1;
    let tid = ids[row];
    let direct = file.read_rows(&[row]).unwrap().remove(0);
    let wave = file.wavelength();

    let (st, v) = e.json(&format!("/api/v1/spectra/{tid}"), &token).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["targetid"].as_i64(), Some(tid));
    let as_f32 = |x: &Value| x.as_f64().map(|f| f as f32);
    let flux: Vec<Option<f32>> = v["flux"].as_array().unwrap().iter().map(as_f32).collect();
    let want: Vec<Option<f32>> = direct
        .flux
        .iter()
        .map(|f| f.is_finite().then_some(*f))
        .collect();
    assert_eq!(flux.len(), wave.len());
    assert_eq!(flux, want);
    let ivar: Vec<Option<f32>> = v["ivar"].as_array().unwrap().iter().map(as_f32).collect();
    assert_eq!(
        ivar,
        direct
            .ivar
            .iter()
            .map(|f| f.is_finite().then_some(*f))
            .collect::<Vec<_>>()
    );
    let mask: Vec<u32> = v["mask"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(mask, direct.mask);
    let wl: Vec<f64> = v["wavelength_a"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert_eq!(wl, wave);
    assert_eq!(v["file"], "27247.parquet");
    assert_eq!(v["z"].as_f64(), Some(direct.z));

    // The plot: an SVG document, the same bytes as the CLI's plot of the
    // same spectrum, with the flux drawn through every good pixel.
    let (st, ct, body) = e
        .get(&format!("/api/v1/spectra/{tid}/plot.svg"), &token)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(ct.starts_with("image/svg+xml"), "{ct}");
    let svg = String::from_utf8(body).unwrap();
    let elements = xml_elements(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    assert_eq!(elements[0], "svg");
    let z = direct.z.is_finite().then_some(direct.z);
    let cli = astrolab_spectra::plot::spectrum_svg(&astrolab_spectra::plot::SpectrumPlot {
        title: format!("TARGETID {tid}  z = {:.4}", z.unwrap_or(f64::NAN)),
        wavelength: &wave,
        flux: &direct.flux,
        ivar: &direct.ivar,
        mask: &direct.mask,
        z,
        rest_frame: false,
    });
    assert_eq!(svg, cli);
    let line = svg
        .split("<path ")
        .find(|p| p.contains(r##"stroke="#08519c""##))
        .expect("the flux line");
    let d = line
        .split("d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let good = (0..wave.len())
        .filter(|&i| direct.mask[i] == 0 && direct.ivar[i] > 0.0 && direct.flux[i].is_finite())
        .count();
    assert!(good > 1000, "{good}");
    assert_eq!(d.split_whitespace().count(), good);
    let (st, _, rest) = e
        .get(&format!("/api/v1/spectra/{tid}/plot.svg?rest=true"), &token)
        .await;
    assert_eq!(st, StatusCode::OK);
    xml_elements(&String::from_utf8(rest).unwrap()).unwrap();

    // Absent and malformed TARGETIDs.
    let (st, v) = e.json("/api/v1/spectra/123456789", &token).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("123456789"),
        "{v}"
    );
    let (st, v) = e.json("/api/v1/spectra/abc", &token).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "targetid");
    let (st, v) = e
        .json(
            &format!("/api/v1/spectra/{tid}/plot.svg?rest=maybe"),
            &token,
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("rest"))
    );
    // No credentials, no spectrum.
    let (st, _, _) = e.get(&format!("/api/v1/spectra/{tid}"), "alab_bad").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Restricted: the redrock file the spectra were built from joins a
    // project's dataset. Outsiders get 404; each read by a member (data
    // and plot) is audited.
    let member = e.token("member", Role::Viewer, &["desi-qso"]);
    let mut store = e.store();
    let redrock_id = match store
        .ingest_file(&redrock, &IngestOptions::default(), &mut Progress::none())
        .unwrap()
    {
        astrolab_store::IngestOutcome::Loaded { file, .. }
        | astrolab_store::IngestOutcome::AlreadyIngested { file } => file.file_id,
    };
    store
        .upsert_dataset(
            "qso-private",
            "",
            Visibility::Restricted,
            &["desi-qso".to_string()],
        )
        .unwrap();
    store
        .add_file_to_dataset("qso-private", redrock_id)
        .unwrap();
    for uri in [
        format!("/api/v1/spectra/{tid}"),
        format!("/api/v1/spectra/{tid}/plot.svg"),
    ] {
        let (st, _, _) = e.get(&uri, &token).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
        let (st, _, _) = e.get(&uri, &member).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
    }
    let reads: Vec<(String, String)> = e
        .store()
        .list_audit(1000, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "dataset.read" && r.event.target == "qso-private")
        .map(|r| {
            (
                r.event.actor,
                r.event.details["route"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(reads
        .iter()
        .all(|(who, route)| who.starts_with("member") && *route == format!("spectrum {tid}")));
    // Fail closed: a spectra file whose sources list cannot be read is not
    // shown while anything is restricted to the caller.
    register(&mut store, "not a JSON list".into());
    let (st, _, _) = e.get(&format!("/api/v1/spectra/{tid}"), &member).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the member may read every restricted file"
    );
    let (st, _, _) = e.get(&format!("/api/v1/spectra/{tid}"), &token).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// Small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

#[tokio::test]
async fn science_void_stats_equal_astrolab_voids() {
    let e = env();
    let token = e.token("viewer", Role::Viewer, &[]);
    // 600 galaxies: every third one in a void, void galaxies 0.2 dex less
    // massive; 40 more with membership but no FastSpecFit row.
    let n = 600;
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let ids: Vec<i64> = (0..n as i64).map(|i| 39_627_000_000_000 + 7 * i).collect();
    let vflag: Vec<u8> = (0..n).map(|i| [1u8, 0, 0, 0, 2, 9][i % 6]).collect();
    let ra: Vec<f64> = (0..n).map(|_| 150.0 + 10.0 * rng.uniform()).collect();
    let dec: Vec<f64> = (0..n).map(|_| 1.0 + 5.0 * rng.uniform()).collect();
    let z: Vec<f64> = (0..n).map(|_| 0.05 + 0.1 * rng.uniform()).collect();
    let logm: Vec<f64> = (0..n)
        .map(|i| 10.3 + 0.5 * rng.normal() - if vflag[i] == 1 { 0.2 } else { 0.0 })
        .collect();
    // A few non-positive SFRs: -inf log sSFR, dropped from that property.
    let sfr: Vec<f64> = (0..n)
        .map(|i| {
            if i % 37 == 0 {
                0.0
            } else {
                10f64.powf(0.4 * rng.normal())
            }
        })
        .collect();
    let fsf = e.home.join("fastspec-test.fits");
    write_fastspec(&fsf, &ids, &ra, &dec, &z, &logm, &sfr);
    let mut store = e.store();
    store
        .ingest_file(&fsf, &IngestOptions::default(), &mut Progress::none())
        .unwrap();
    let galaxies: Vec<(i64, u8, Option<i64>)> = (0..n + 40)
        .map(|i| {
            if i < n {
                (ids[i], vflag[i], None)
            } else {
                (1_000 + i as i64, [1u8, 0][i % 2], None)
            }
        })
        .collect();
    write_voidfinder_membership(&mut store, &galaxies);

    for prop in ["logmstar", "log_ssfr"] {
        let (st, v) = e
            .json(
                &format!("/api/v1/voids/stats?algorithm=VoidFinder&property={prop}"),
                &token,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let value = |i: usize| match prop {
            "logmstar" => logm[i],
            _ => {
                let l = astrolab_voids::compare::log_ssfr(sfr[i], logm[i]);
                if l.is_finite() {
                    l
                } else {
                    f64::NAN
                }
            }
        };
        let void: Vec<f64> = (0..n).filter(|&i| vflag[i] == 1).map(value).collect();
        let wall: Vec<f64> = (0..n).filter(|&i| vflag[i] == 0).map(value).collect();
        let want = astrolab_voids::compare::compare_property(
            &prop.to_uppercase(),
            &void,
            &wall,
            &astrolab_voids::compare::CompareConfig::default(),
        )
        .unwrap();
        let fv: Vec<f64> = void.iter().copied().filter(|x| x.is_finite()).collect();
        let fw: Vec<f64> = wall.iter().copied().filter(|x| x.is_finite()).collect();
        let ks = astrolab_voids::stats::ks_2samp(&fv, &fw, astrolab_voids::stats::KsMethod::Auto)
            .unwrap();
        let ad = astrolab_voids::stats::anderson_ksamp(&[&fv, &fw]).unwrap();
        assert_eq!(v["n_void"].as_u64(), Some(want.n_a as u64));
        assert_eq!(v["n_wall"].as_u64(), Some(want.n_b as u64));
        assert_eq!(want.n_a, fv.len());
        assert_eq!(v["median_void"].as_f64(), Some(want.median_a.estimate));
        assert_eq!(v["median_wall"].as_f64(), Some(want.median_b.estimate));
        assert_eq!(v["median_void_ci"][0].as_f64(), Some(want.median_a.lo));
        assert_eq!(v["ks_statistic"].as_f64(), Some(ks.statistic));
        assert_eq!(v["ks_p_value"].as_f64(), Some(ks.pvalue));
        assert_eq!(v["ad_statistic"].as_f64(), Some(ad.statistic));
        assert_eq!(v["ad_p_value"].as_f64(), Some(ad.pvalue));
        if prop == "logmstar" {
            // 0.2 dex on 100 vs 300 galaxies: clearly different.
            assert!(ks.pvalue < 0.05, "{}", ks.pvalue);
            assert_eq!(want.n_a, 100);
        }
    }
    // Unknown algorithm or property: 400 naming the field; the property is
    // never SQL.
    let (st, v) = e
        .json(
            "/api/v1/voids/stats?algorithm=VoidFinder&property=logmstar;DROP",
            &token,
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("property"))
    );
    let (st, v) = e.json("/api/v1/voids/stats?algorithm=ZOBOV", &token).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("algorithm"))
    );

    // Summary and members.
    let (st, v) = e.json("/api/v1/voids/summary", &token).await;
    assert_eq!(st, StatusCode::OK);
    let void_count = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vflag"] == 1)
        .unwrap()["n_galaxies"]
        .as_i64();
    assert_eq!(void_count, Some(100 + 20));
    let (st, v) = e
        .json(
            "/api/v1/voids/members?algorithm=VoidFinder&class=void&limit=7&offset=3",
            &token,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut want: Vec<(i64, Option<usize>)> = (0..n)
        .filter(|&i| vflag[i] == 1)
        .map(|i| (ids[i], Some(i)))
        .collect();
    want.extend(
        (n..n + 40)
            .filter(|i| i % 2 == 0)
            .map(|i| (1_000 + i as i64, None)),
    );
    want.sort();
    assert_eq!(v["total"].as_i64(), Some(want.len() as i64));
    assert_eq!(v["next_offset"].as_u64(), Some(10));
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    for (it, (t, i)) in items.iter().zip(&want[3..10]) {
        assert_eq!(it["targetid"].as_i64(), Some(*t));
        match i {
            Some(i) => {
                assert_eq!(it["ra"].as_f64(), Some(ra[*i]));
                assert_eq!(it["z"].as_f64(), Some(z[*i]));
            }
            None => assert!(it["ra"].is_null()),
        }
    }
    let (st, v) = e
        .json(
            "/api/v1/voids/members?algorithm=VoidFinder&class=filament",
            &token,
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("class"))
    );
    let (st, v) = e
        .json("/api/v1/voids/members?algorithm=VoidFinder&limit=x", &token)
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
}

/// Writes a synthetic SigMF recording (astrolab_hline::synth's lab
/// scenario) and puts its integrated spectra into the store as
/// `hline process` does; returns (file id, truth, start time, rows).
fn synthetic_recording(
    e: &Env,
) -> (
    i64,
    astrolab_hline::synth::SynthTruth,
    f64,
    Vec<HlineSpectrumRow>,
) {
    use astrolab_formats::iq::{encode_into, IqDatatype, IqReader};
    use astrolab_formats::sigmf::{
        sigmf_pair, write_sigmf_meta, Geolocation, Pointing, SigmfWriteMeta,
    };
    use astrolab_hline::spectrometer::{channel_freq_hz, Spectrometer, SpectrometerConfig};
    use astrolab_hline::synth::{generate, SynthConfig};

    let cfg = SynthConfig::lab_scenario(11, 2.4e6, 2.0);
    let (meta, data) = sigmf_pair(&e.home.join("hline-test"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&data).unwrap());
    let mut bytes = Vec::new();
    let truth = generate(&cfg, |x| {
        bytes.clear();
        encode_into(IqDatatype::Cu8, x, &mut bytes);
        std::io::Write::write_all(&mut f, &bytes)
    })
    .unwrap();
    drop(f);
    let start = 1_795_377_600.0;
    write_sigmf_meta(
        &meta,
        &SigmfWriteMeta {
            datatype: IqDatatype::Cu8,
            sample_rate_hz: cfg.sample_rate_hz,
            center_freq_hz: cfg.center_freq_hz,
            start_unix_s: Some(start),
            geolocation: Some(Geolocation {
                lon_deg: 11.9177,
                lat_deg: 57.393,
                alt_m: 20.0,
            }),
            pointing: Some(Pointing::Equatorial {
                ra_deg: 281.6,
                dec_deg: -2.4,
            }),
            description: "science_api test".into(),
        },
        truth.n_samples,
    )
    .unwrap();
    let n = 1024;
    let scfg = SpectrometerConfig::new(n, cfg.sample_rate_hz, 0.25);
    let mut spec = Spectrometer::new(scfg).unwrap();
    let mut reader = IqReader::open(&data, IqDatatype::Cu8, 1 << 18).unwrap();
    let (mut buf, mut ints, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let width = cfg.sample_rate_hz / n as f64;
    let push = |i: astrolab_hline::spectrometer::Integration, rows: &mut Vec<HlineSpectrumRow>| {
        rows.push(HlineSpectrumRow {
            integration: i.index as i64,
            start_unix_s: start + i.start_sample as f64 / cfg.sample_rate_hz,
            n_frames: i.n_frames as i64,
            integration_s: i.n_frames as f64 * n as f64 / cfg.sample_rate_hz,
            center_freq_hz: cfg.center_freq_hz,
            first_channel_freq_hz: channel_freq_hz(0, n, cfg.center_freq_hz, cfg.sample_rate_hz),
            channel_width_hz: width,
            ra_deg: Some(281.6),
            dec_deg: Some(-2.4),
            az_deg: None,
            el_deg: None,
            spectrum: i.power,
            flags: i.flags,
        })
    };
    while reader.read_chunk(&mut buf).unwrap() > 0 {
        spec.push(&buf, &mut ints);
        for i in ints.drain(..) {
            push(i, &mut rows);
        }
    }
    if let Some(i) = spec.finish() {
        push(i, &mut rows);
    }
    let (size, sha) = astrolab_store::file_digest(&data).unwrap();
    let id = e
        .store()
        .store_hline_recording(
            &HlineRecording {
                name: "hline-test.sigmf-data".into(),
                source: data.display().to_string(),
                size_bytes: size as i64,
                sha256: sha,
                format: "sigmf".into(),
                details:
                    serde_json::json!({"datatype": "cu8", "sample_rate_hz": cfg.sample_rate_hz})
                        .to_string(),
            },
            &rows,
        )
        .unwrap();
    (id, truth, start, rows)
}

#[tokio::test]
async fn science_hline_fit_recovers_the_synthetic_line() {
    let e = env();
    let viewer = e.token("viewer", Role::Viewer, &[]);
    let member = e.token("member", Role::Viewer, &["hi-survey"]);
    let (id, truth, start, rows) = synthetic_recording(&e);
    assert!(rows.len() >= 7, "{}", rows.len());

    let (st, v) = e.json("/api/v1/hline/recordings", &viewer).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let rec = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file_id"] == id)
        .expect("listed")
        .clone();
    assert_eq!(rec["n_spectra"].as_i64(), Some(rows.len() as i64));
    assert_eq!(rec["format"], "sigmf");

    let (st, v) = e
        .json(
            &format!("/api/v1/hline/recordings/{id}/spectra?limit=2&offset=1"),
            &viewer,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["total"].as_i64(), Some(rows.len() as i64));
    assert_eq!(v["count"], 2);
    let it = &v["items"][0];
    assert_eq!(it["integration"].as_i64(), Some(rows[1].integration));
    let power: Vec<f32> = it["power"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(power, rows[1].spectrum);
    let flags: Vec<u8> = it["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(flags, rows[1].flags);
    assert_eq!(
        it["first_channel_freq_hz"].as_f64(),
        Some(rows[1].first_channel_freq_hz)
    );

    // The fit: the strongest component at the true velocity, in the
    // kinematic LSR frame of the recording's site, time and pointing.
    let (st, v) = e
        .json(
            &format!("/api/v1/hline/recordings/{id}/fit?components=3"),
            &viewer,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let duration = truth.n_samples as f64 / truth.config.sample_rate_hz;
    let corr = astrolab_hline::velocity::lsr_correction_km_s(
        astrolab_hline::velocity::UtcTime::from_unix_seconds(start + duration / 2.0),
        astrolab_hline::velocity::Site {
            lat_deg: 57.393,
            lon_deg: 11.9177,
            height_m: 20.0,
        },
        281.6,
        -2.4,
        astrolab_hline::velocity::LsrDefinition::Kinematic,
    )
    .unwrap();
    assert!(
        (v["lsr_correction_km_s"].as_f64().unwrap() - corr).abs() < 0.01,
        "{v}"
    );
    let comps = v["components"].as_array().unwrap();
    assert!(!comps.is_empty() && comps.len() <= 3, "{v}");
    let best = &comps[0];
    let v_true = truth.line_center_v_radio_km_s;
    let v_topo = best["v_radio_topo_km_s"].as_f64().unwrap();
    let v_lsr = best["v_km_s"].as_f64().unwrap();
    assert!(
        (v_topo - v_true).abs() < 0.5,
        "fit {v_topo} km/s, truth {v_true} km/s: {v}"
    );
    assert!(
        (v_lsr - (v_true + corr)).abs() < 0.5,
        "fit {v_lsr}, truth {}",
        v_true + corr
    );
    // Peak relative to Tsys: the synthetic line is 40 K on 120 K.
    let amp = best["amp_rel"].as_f64().unwrap();
    assert!((amp - 40.0 / 120.0).abs() < 0.05, "{amp}");
    assert!(
        (best["fwhm_km_s"].as_f64().unwrap() - 25.0).abs() < 3.0,
        "{v}"
    );

    // Bad parameters.
    let (st, v) = e
        .json(
            &format!("/api/v1/hline/recordings/{id}/fit?components=40"),
            &viewer,
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("components"))
    );
    let (st, v) = e.json("/api/v1/hline/recordings/x/spectra", &viewer).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file_id"))
    );
    let (st, _) = e.json("/api/v1/hline/recordings/999999/fit", &viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A restricted recording is 404 to outsiders, as if absent; its
    // project's members read it.
    let mut store = e.store();
    store
        .upsert_dataset(
            "hi-private",
            "restricted recordings",
            Visibility::Restricted,
            &["hi-survey".to_string()],
        )
        .unwrap();
    store.add_file_to_dataset("hi-private", id).unwrap();
    let (st, v) = e.json("/api/v1/hline/recordings", &viewer).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["file_id"] != id),
        "{v}"
    );
    for route in ["spectra", "fit"] {
        let (st, v) = e
            .json(&format!("/api/v1/hline/recordings/{id}/{route}"), &viewer)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{route}: {v}");
        let (st, _) = e
            .json(&format!("/api/v1/hline/recordings/{id}/{route}"), &member)
            .await;
        assert_eq!(st, StatusCode::OK, "{route}");
    }
    // Every read of the restricted recording by a member is audited (the
    // list, the spectra, the fit); the outsider's reads touched nothing.
    let (st, _) = e.json("/api/v1/hline/recordings", &member).await;
    assert_eq!(st, StatusCode::OK);
    let reads = |who: &str| {
        e.store()
            .list_audit(1000, None)
            .unwrap()
            .into_iter()
            .filter(|r| {
                r.event.action == "dataset.read"
                    && r.event.target == "hi-private"
                    && r.event.actor.starts_with(who)
            })
            .map(|r| r.event.details["route"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reads("member"),
        vec![
            "/api/v1/hline/recordings".to_string(),
            format!("hline recording {id} fit"),
            format!("hline recording {id} spectra"),
        ]
    );
    assert!(reads("viewer").is_empty());

    // A recording whose file can no longer be read (raw recordings are
    // deleted after processing) and that has no spectra archive: the fit
    // says why it has no site, not merely "no site".
    let source = e
        .store()
        .raw_files()
        .unwrap()
        .into_iter()
        .find(|f| f.file_id == id)
        .unwrap()
        .source;
    std::fs::remove_file(&source).unwrap();
    let (st, v) = e
        .json(&format!("/api/v1/hline/recordings/{id}/fit"), &member)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let frame = v["velocity_frame"].as_str().unwrap();
    assert!(
        frame.starts_with("topocentric radio velocity: the site is unknown because the recording")
            && frame.contains("cannot be read"),
        "{frame}"
    );
}
