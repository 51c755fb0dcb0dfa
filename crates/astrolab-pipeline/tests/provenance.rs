//! Run manifests end to end: writing and reading the RO-Crate, checking
//! inputs, comparing re-run outputs with volatile fields (FITS, JSON, text).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use astrolab_pipeline::manifest::{
    normalised_bytes, read_manifest, write_manifest, FileEntry, RunManifest, Software, Volatile,
    METADATA_FILE, PROCESS_RUN_CRATE, RO_CRATE_CONTEXT,
};
use astrolab_pipeline::reproduce::{check_inputs, compare_outputs, Difference, ReproduceError};
use serde_json::{json, Value};
use time::macros::datetime;

/// One 80-byte FITS card.
fn card(kw: &str, value: &str) -> Vec<u8> {
    let text = if kw == "END" {
        "END".to_string()
    } else {
        format!("{kw:<8}= {value:>20}")
    };
    let mut c = text.into_bytes();
    c.resize(80, b' ');
    c
}

/// Pads to a whole 2880-byte block.
fn pad(mut v: Vec<u8>, fill: u8) -> Vec<u8> {
    let n = v.len().div_ceil(2880) * 2880;
    v.resize(n, fill);
    v
}

/// A small valid FITS file: primary HDU (no data) with a DATE card, then a
/// BINTABLE of 3 rows x (ID int32, FLUX float64).
fn fits_file(date: &str) -> Vec<u8> {
    let mut h = Vec::new();
    for (k, v) in [
        ("SIMPLE", "T"),
        ("BITPIX", "8"),
        ("NAXIS", "0"),
        ("EXTEND", "T"),
        ("DATE", &format!("'{date}'")),
        ("ORIGIN", "'astrolab'"),
        ("END", ""),
    ] {
        h.extend(card(k, v));
    }
    let mut out = pad(h, b' ');
    let mut x = Vec::new();
    for (k, v) in [
        ("XTENSION", "'BINTABLE'"),
        ("BITPIX", "8"),
        ("NAXIS", "2"),
        ("NAXIS1", "12"),
        ("NAXIS2", "3"),
        ("PCOUNT", "0"),
        ("GCOUNT", "1"),
        ("TFIELDS", "2"),
        ("TTYPE1", "'ID'"),
        ("TFORM1", "'J'"),
        ("TTYPE2", "'FLUX'"),
        ("TFORM2", "'D'"),
        ("END", ""),
    ] {
        x.extend(card(k, v));
    }
    out.extend(pad(x, b' '));
    let mut data = Vec::new();
    for (id, flux) in [(1i32, 1.5f64), (2, -2.25), (3, 1e-3)] {
        data.extend(id.to_be_bytes());
        data.extend(flux.to_be_bytes());
    }
    out.extend(pad(data, 0));
    out
}

fn software() -> Software {
    Software::current(
        "0.1.0",
        Some("6820668aa0000000000000000000000000000000"),
        Some("5d41402abc4b2a76b9719d911017c592"),
        "release",
        "x86_64-unknown-linux-gnu",
    )
}

/// A manifest for `outputs` under `out_dir` (hashed now) and `inputs`.
fn manifest(out_dir: &Path, inputs: &[PathBuf], outputs: &[(&str, Vec<Volatile>)]) -> RunManifest {
    RunManifest {
        pipeline: "voids find".to_string(),
        parameters: json!({"min_radius": 10.0, "threads": 2, "catalog": "dr7", "mask": {"nside": 64}}),
        inputs: inputs
            .iter()
            .enumerate()
            .map(|(i, p)| FileEntry::input(p, Some(100 + i as i64)).unwrap())
            .collect(),
        outputs: outputs
            .iter()
            .map(|(p, v)| FileEntry::output(out_dir, Path::new(p), v.clone()).unwrap())
            .collect(),
        software: software(),
        executor: "in-process".to_string(),
        threads: Some(2),
        host: "rust-svc".to_string(),
        start_time: datetime!(2026-12-05 10:00:00.123456789 UTC),
        end_time: datetime!(2026-12-05 10:00:07.5 UTC),
        run_id: Some(42),
        submitter: Some("Ada Astronomer".to_string()),
        license: Some("CC-BY-4.0".to_string()),
    }
}

fn entity<'a>(graph: &'a [Value], id: &str) -> &'a Value {
    graph
        .iter()
        .find(|e| e["@id"] == id)
        .unwrap_or_else(|| panic!("no entity {id}"))
}

fn ids(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x["@id"].as_str().unwrap().to_string())
            .collect(),
        Value::Object(_) => vec![v["@id"].as_str().unwrap().to_string()],
        _ => panic!("not a reference: {v}"),
    }
}

/// A run directory with one FITS, one JSON, one text output and one input.
struct Run {
    _tmp: tempfile::TempDir,
    input: PathBuf,
    run: PathBuf,
    new: PathBuf,
}

fn run_dirs() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in").join("catalog.fits");
    fs::create_dir_all(input.parent().unwrap()).unwrap();
    fs::write(&input, fits_file("2020-01-01T00:00:00")).unwrap();
    let run = tmp.path().join("run");
    let new = tmp.path().join("new");
    for d in [&run, &new] {
        fs::create_dir_all(d.join("tables")).unwrap();
    }
    fs::write(
        run.join("tables/voids.fits"),
        fits_file("2026-12-05T10:00:07"),
    )
    .unwrap();
    fs::write(
        run.join("summary.json"),
        br#"{"voids": 999, "written_at": "2026-12-05T10:00:07Z"}"#,
    )
    .unwrap();
    fs::write(
        run.join("holes.csv"),
        b"# written at 2026-12-05T10:00:07Z\nx,y,r\n1,2,3\n4,5,6\n",
    )
    .unwrap();
    Run {
        _tmp: tmp,
        input,
        run,
        new,
    }
}

fn volatile_outputs() -> Vec<(&'static str, Vec<Volatile>)> {
    vec![
        (
            "tables/voids.fits",
            vec![Volatile::FitsKeyword {
                hdu: 0,
                keyword: "DATE".into(),
            }],
        ),
        (
            "summary.json",
            vec![Volatile::JsonPointer("/written_at".into())],
        ),
        (
            "holes.csv",
            vec![Volatile::LinePrefix("# written at".into())],
        ),
    ]
}

/// Writes the re-run's outputs: same content, new timestamps.
fn rerun(r: &Run) {
    fs::write(
        r.new.join("tables/voids.fits"),
        fits_file("2027-01-01T11:11:11"),
    )
    .unwrap();
    fs::write(
        r.new.join("summary.json"),
        br#"{"written_at": "2027-01-01T11:11:11Z",  "voids": 999}"#,
    )
    .unwrap();
    fs::write(
        r.new.join("holes.csv"),
        b"# written at 2027-01-01T11:11:11Z\nx,y,r\n1,2,3\n4,5,6\n",
    )
    .unwrap();
}

fn differs(e: ReproduceError) -> Difference {
    match e {
        ReproduceError::OutputsDiffer(d) => d,
        other => panic!("expected a difference, got {other}"),
    }
}

#[test]
fn manifest_round_trip_and_crate_structure() {
    let r = run_dirs();
    let m = manifest(&r.run, std::slice::from_ref(&r.input), &volatile_outputs());
    let path = write_manifest(&r.run, &m).unwrap();
    assert_eq!(path, r.run.join(METADATA_FILE));
    // Atomic write leaves no temporary file behind.
    let names: Vec<_> = fs::read_dir(&r.run)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| !n.to_string_lossy().contains(".tmp")),
        "{names:?}"
    );

    assert_eq!(read_manifest(&path).unwrap(), m);
    assert_eq!(read_manifest(&r.run).unwrap(), m, "the directory works too");

    let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["@context"][0], RO_CRATE_CONTEXT);
    let graph = doc["@graph"].as_array().unwrap();
    let descriptor = entity(graph, METADATA_FILE);
    assert_eq!(descriptor["@type"], "CreativeWork");
    assert_eq!(descriptor["about"]["@id"], "./");
    assert_eq!(
        descriptor["conformsTo"]["@id"],
        "https://w3id.org/ro/crate/1.1"
    );

    let root = entity(graph, "./");
    assert_eq!(root["@type"], "Dataset");
    assert_eq!(root["conformsTo"]["@id"], PROCESS_RUN_CRATE);
    assert_eq!(entity(graph, PROCESS_RUN_CRATE)["@type"], "CreativeWork");
    assert_eq!(root["datePublished"], "2026-12-05T10:00:07.5Z");
    assert_eq!(
        root["license"]["@id"],
        "https://spdx.org/licenses/CC-BY-4.0"
    );
    assert_eq!(
        ids(&root["hasPart"]),
        ["tables/voids.fits", "summary.json", "holes.csv"]
    );
    let action_id = &ids(&root["mentions"])[0];

    let action = entity(graph, action_id);
    assert_eq!(action["@type"], "CreateAction");
    assert_eq!(action["startTime"], "2026-12-05T10:00:00.123456789Z");
    assert_eq!(action["endTime"], "2026-12-05T10:00:07.5Z");
    let app = entity(graph, action["instrument"]["@id"].as_str().unwrap());
    assert_eq!(app["@type"], "SoftwareApplication");
    assert_eq!(app["name"], "astrolab");
    assert_eq!(app["version"], "0.1.0");
    let facts: Vec<(String, String)> = ids(&app["additionalProperty"])
        .iter()
        .map(|id| {
            let p = entity(graph, id);
            assert_eq!(p["@type"], "PropertyValue");
            (
                p["name"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        facts.contains(&("profile".into(), "release".into())),
        "{facts:?}"
    );
    assert!(facts.contains(&("target".into(), "x86_64-unknown-linux-gnu".into())));
    assert!(facts.iter().any(|(n, _)| n == "git_commit"));
    assert!(facts.iter().any(|(n, _)| n == "cargo_lock_sha256"));

    assert_eq!(ids(&action["result"]), ids(&root["hasPart"]));
    let voids = entity(graph, "tables/voids.fits");
    assert_eq!(voids["@type"], "File");
    assert_eq!(voids["contentSize"], m.outputs[0].size_bytes.to_string());
    assert_eq!(voids["sha256"], m.outputs[0].sha256);

    let objects = ids(&action["object"]);
    let input = entity(graph, &objects[0]);
    assert_eq!(input["@type"], "File");
    assert_eq!(input["alternateName"], r.input.to_str().unwrap());
    assert_eq!(input["sha256"], m.inputs[0].sha256);
    assert_eq!(input["rawFileId"], 100);
    let params: Vec<&Value> = objects[1..].iter().map(|id| entity(graph, id)).collect();
    assert!(params.iter().all(|p| p["@type"] == "PropertyValue"));
    let radius = params.iter().find(|p| p["name"] == "min_radius").unwrap();
    assert_eq!(radius["value"], 10.0);
    let mask = params.iter().find(|p| p["name"] == "mask").unwrap();
    assert_eq!(mask["value"], r#"{"nside":64}"#);

    let agent = entity(graph, action["agent"]["@id"].as_str().unwrap());
    assert_eq!(agent["@type"], "Person");
    assert_eq!(agent["name"], "Ada Astronomer");
}

#[test]
fn manifest_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join(METADATA_FILE);
    fs::write(&p, b"{\"@graph\": [").unwrap();
    let msg = read_manifest(&p).unwrap_err().to_string();
    assert!(
        msg.contains(p.to_str().unwrap()) && msg.contains("not valid JSON"),
        "{msg}"
    );
    fs::write(&p, br#"{"@graph": [{"@id": "./", "@type": "Dataset"}]}"#).unwrap();
    let msg = read_manifest(&p).unwrap_err().to_string();
    assert!(msg.contains("astrolabManifest"), "{msg}");

    let mut m = manifest(tmp.path(), &[], &[]);
    m.outputs.push(FileEntry {
        path: "../escape.fits".into(),
        size_bytes: 0,
        sha256: String::new(),
        raw_file_id: None,
        volatile: vec![],
    });
    let msg = write_manifest(tmp.path(), &m).unwrap_err().to_string();
    assert!(
        msg.contains("../escape.fits") && msg.contains(".."),
        "{msg}"
    );
}

#[test]
fn crate_parses_with_python_rocrate() {
    let probe = Command::new("python3")
        .args(["-c", "import rocrate"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        if std::env::var_os("CI").is_some() {
            panic!("the Python package `rocrate` is needed to validate run crates: install it with `pip install rocrate`");
        }
        eprintln!("skipped: Python package `rocrate` not installed (pip install rocrate)");
        return;
    }
    let r = run_dirs();
    let m = manifest(&r.run, std::slice::from_ref(&r.input), &volatile_outputs());
    write_manifest(&r.run, &m).unwrap();
    let script = r#"
import sys
from rocrate.rocrate import ROCrate
c = ROCrate(sys.argv[1])
root = c.root_dataset
assert root is not None
conforms = root["conformsTo"]
conforms = conforms if isinstance(conforms, list) else [conforms]
assert any(getattr(x, "id", x) == "https://w3id.org/ro/wfrun/process/0.5" for x in conforms), conforms
actions = [e for e in c.get_entities() if e.type == "CreateAction"]
assert len(actions) == 1, actions
a = actions[0]
assert a["instrument"].type == "SoftwareApplication", a["instrument"]
assert a["instrument"]["name"] == "astrolab"
results = sorted(x.id for x in a["result"])
assert results == ["holes.csv", "summary.json", "tables/voids.fits"], results
files = sorted(e.id for e in c.data_entities)
assert "tables/voids.fits" in files, files
objects = a["object"]
assert any(getattr(o, "type", None) == "File" for o in objects), objects
assert c.get("tables/voids.fits")["sha256"] == sys.argv[2]
print("rocrate ok", a.id, len(list(c.get_entities())), "entities")
"#;
    let out = Command::new("python3")
        .args(["-c", script, r.run.to_str().unwrap(), &m.outputs[0].sha256])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rocrate could not read the crate:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rocrate ok"));
}

#[test]
fn check_inputs_refuses_a_flipped_byte() {
    let r = run_dirs();
    let m = manifest(&r.run, std::slice::from_ref(&r.input), &[]);
    check_inputs(&m).unwrap();
    let mut bytes = fs::read(&r.input).unwrap();
    bytes[3000] ^= 0x01;
    fs::write(&r.input, &bytes).unwrap();
    let e = check_inputs(&m).unwrap_err();
    assert!(matches!(e, ReproduceError::InputChanged { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(r.input.to_str().unwrap()), "{msg}");
    assert!(msg.contains(&m.inputs[0].sha256), "{msg}");
    assert!(msg.contains("restore it or run the pipeline anew"), "{msg}");

    fs::remove_file(&r.input).unwrap();
    let msg = check_inputs(&m).unwrap_err().to_string();
    assert!(
        msg.contains(r.input.to_str().unwrap()) && msg.contains("restore it"),
        "{msg}"
    );
}

#[test]
fn fits_date_is_volatile_only_when_declared() {
    let r = run_dirs();
    rerun(&r);
    let m = manifest(&r.run, &[], &volatile_outputs());
    compare_outputs(&m, &r.run, &r.new).unwrap();

    // Same outputs without the FITS declaration: DATE's card differs.
    let mut strict = m.clone();
    strict.outputs[0].volatile.clear();
    let d = differs(compare_outputs(&strict, &r.run, &r.new).unwrap_err());
    let Difference::Content {
        path,
        offset,
        location,
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(path, Path::new("tables/voids.fits"));
    // DATE is card 5 of the primary header; its value starts at column 11.
    assert!((4 * 80 + 10..5 * 80).contains(offset), "{offset}");
    let loc = location.as_deref().unwrap();
    assert!(loc.contains("HDU 0") && loc.contains("`DATE`"), "{loc}");
    let msg = ReproduceError::OutputsDiffer(d.clone()).to_string();
    assert!(
        msg.contains("tables/voids.fits") && msg.contains("DATE"),
        "{msg}"
    );

    // One flipped data byte in the table is found even with DATE volatile.
    let mut bytes = fs::read(r.new.join("tables/voids.fits")).unwrap();
    let at = 2 * 2880 + 13; // row 2, first byte of ID
    bytes[at] ^= 0x40;
    fs::write(r.new.join("tables/voids.fits"), &bytes).unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Content {
            path: "tables/voids.fits".into(),
            offset: at as u64,
            location: Some("HDU 1, data byte 13".into()),
        }
    );
    let msg = ReproduceError::OutputsDiffer(d).to_string();
    assert!(
        msg.contains("tables/voids.fits") && msg.contains(&at.to_string()),
        "{msg}"
    );
}

#[test]
fn fits_normalisation_blanks_only_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.fits");
    let b = tmp.path().join("b.fits");
    fs::write(&a, fits_file("2026-12-05T10:00:07")).unwrap();
    fs::write(&b, fits_file("1999-09-09T09:09:09")).unwrap();
    let v = [Volatile::FitsKeyword {
        hdu: 0,
        keyword: "DATE".into(),
    }];
    let na = normalised_bytes(&a, &v).unwrap();
    assert_eq!(na, normalised_bytes(&b, &v).unwrap());
    assert_eq!(na.len(), fs::read(&a).unwrap().len());
    assert_eq!(&na[4 * 80..4 * 80 + 10], b"DATE    = ");
    assert!(na[4 * 80 + 10..5 * 80].iter().all(|&c| c == b' '));
    // Declaring it in the wrong HDU changes nothing.
    let wrong = [Volatile::FitsKeyword {
        hdu: 1,
        keyword: "DATE".into(),
    }];
    assert_ne!(
        normalised_bytes(&a, &wrong).unwrap(),
        normalised_bytes(&b, &wrong).unwrap()
    );
    // Not FITS at all: an error naming the file.
    let c = tmp.path().join("c.fits");
    fs::write(&c, vec![b'x'; 4000]).unwrap();
    let msg = normalised_bytes(&c, &v).unwrap_err().to_string();
    assert!(msg.contains("c.fits") && msg.contains("SIMPLE"), "{msg}");
    // Truncated data: named as such.
    let mut t = fits_file("2026-12-05T10:00:07");
    t.truncate(2 * 2880 + 10);
    fs::write(&c, &t).unwrap();
    let msg = normalised_bytes(&c, &v).unwrap_err().to_string();
    assert!(msg.contains("HDU 1") && msg.contains("truncated"), "{msg}");
}

#[test]
fn json_pointer_volatile() {
    let r = run_dirs();
    rerun(&r);
    let m = manifest(&r.run, &[], &volatile_outputs());
    compare_outputs(&m, &r.run, &r.new).unwrap();

    let mut strict = m.clone();
    strict.outputs[1].volatile.clear();
    let d = differs(compare_outputs(&strict, &r.run, &r.new).unwrap_err());
    assert!(
        matches!(&d, Difference::Content { path, .. } if path == Path::new("summary.json")),
        "{d:?}"
    );

    fs::write(
        r.new.join("summary.json"),
        br#"{"written_at": "x", "voids": 998}"#,
    )
    .unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    let Difference::Content { path, location, .. } = &d else {
        panic!("{d:?}")
    };
    assert_eq!(path, Path::new("summary.json"));
    assert!(
        location
            .as_deref()
            .unwrap()
            .contains("line 2 of the normalised JSON"),
        "{d:?}"
    );

    let n = normalised_bytes(&r.run.join("summary.json"), &m.outputs[1].volatile).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&n).unwrap(),
        json!({"voids": 999})
    );
}

#[test]
fn line_prefix_volatile() {
    let r = run_dirs();
    rerun(&r);
    let m = manifest(&r.run, &[], &volatile_outputs());
    compare_outputs(&m, &r.run, &r.new).unwrap();
    assert_eq!(
        normalised_bytes(&r.new.join("holes.csv"), &m.outputs[2].volatile).unwrap(),
        b"x,y,r\n1,2,3\n4,5,6\n"
    );

    let mut strict = m.clone();
    strict.outputs[2].volatile.clear();
    let d = differs(compare_outputs(&strict, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Content {
            path: "holes.csv".into(),
            offset: 16,
            location: None,
        }
    );

    // A changed value on line 4: its offset in the new file and line number.
    fs::write(
        r.new.join("holes.csv"),
        b"# written at 2027\nx,y,r\n1,2,3\n4,5,7\n",
    )
    .unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Content {
            path: "holes.csv".into(),
            offset: 34,
            location: Some("line 4".into()),
        }
    );
    // A missing last line.
    fs::write(
        r.new.join("holes.csv"),
        b"# written at 2027\nx,y,r\n1,2,3\n",
    )
    .unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Content {
            path: "holes.csv".into(),
            offset: 30,
            location: Some("line 4".into()),
        }
    );
}

#[test]
fn missing_extra_and_modified_reference() {
    let r = run_dirs();
    rerun(&r);
    let m = manifest(&r.run, &[], &volatile_outputs());
    // The manifest file itself in the new directory is not an extra output.
    write_manifest(&r.new, &m).unwrap();
    compare_outputs(&m, &r.run, &r.new).unwrap();

    fs::write(r.new.join("tables/extra.txt"), b"x").unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Unexpected {
            path: "tables/extra.txt".into()
        }
    );
    fs::remove_file(r.new.join("tables/extra.txt")).unwrap();

    fs::remove_file(r.new.join("summary.json")).unwrap();
    let d = differs(compare_outputs(&m, &r.run, &r.new).unwrap_err());
    assert_eq!(
        d,
        Difference::Missing {
            path: "summary.json".into()
        }
    );
    rerun(&r);

    // A recorded output edited after the run is not trusted as reference.
    fs::write(r.run.join("holes.csv"), b"# written at 2026\nx,y,r\n").unwrap();
    let e = compare_outputs(&m, &r.run, &r.new).unwrap_err();
    assert!(
        matches!(e, ReproduceError::ReferenceChanged { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("holes.csv"), "{e}");

    // Gone with volatile fields: cannot compare. Gone without: checksum.
    fs::remove_file(r.run.join("holes.csv")).unwrap();
    let e = compare_outputs(&m, &r.run, &r.new).unwrap_err();
    assert!(
        matches!(e, ReproduceError::ReferenceMissing { .. }),
        "{e:?}"
    );
    let mut plain = m.clone();
    plain.outputs.retain(|o| o.path != Path::new("holes.csv"));
    plain
        .outputs
        .push(FileEntry::output(&r.new, Path::new("holes.csv"), vec![]).unwrap());
    compare_outputs(&plain, &r.run, &r.new).unwrap();
    fs::write(r.new.join("holes.csv"), b"other").unwrap();
    let d = differs(compare_outputs(&plain, &r.run, &r.new).unwrap_err());
    assert!(matches!(d, Difference::Checksum { .. }), "{d:?}");
}
