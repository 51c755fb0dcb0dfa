//! `astrolab run PIPELINE --params FILE.json --out-dir DIR` (issue 16):
//! the JSON parameters run the same code as the CLI command, the outputs
//! are the same bytes, and the manifest lists them with their SHA-256.

use std::path::Path;
use std::process::Command;

use astrolab_pipeline::hash::sha256_file;
use astrolab_pipeline::manifest::read_manifest;

fn astrolab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_astrolab"));
    c.env("ASTROLAB_HOME", home)
        .env_remove("ASTROLAB_DATABASE_URL")
        .env_remove("ASTROLAB_CONFIG");
    c
}

#[test]
fn run_from_json_matches_the_command_and_writes_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let params = tmp.path().join("p.json");
    std::fs::write(
        &params,
        r#"{"galaxies": 300, "seed": 7, "no_spectra": true}"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let st = astrolab(&home)
        .args(["run", "demo-data", "--params"])
        .arg(&params)
        .arg("--out-dir")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let direct = tmp.path().join("direct");
    let st = astrolab(&home)
        .args([
            "demo-data",
            "--galaxies",
            "300",
            "--seed",
            "7",
            "--no-spectra",
        ])
        .arg(&direct)
        .status()
        .unwrap();
    assert!(st.success());

    let m = read_manifest(&out).unwrap();
    assert_eq!(m.pipeline, "demo-data");
    assert_eq!(m.parameters["galaxies"], 300);
    assert_eq!(m.parameters["seed"], 7);
    assert_eq!(m.executor, "in-process");
    assert!(!m.outputs.is_empty());
    // The typed result is an output too (checksummed, reproduced).
    assert!(m.outputs.iter().any(|o| o.path == Path::new("result.json")));
    for o in m
        .outputs
        .iter()
        .filter(|o| o.path != Path::new("result.json"))
    {
        let rel = o.path.strip_prefix("demo").unwrap();
        let (size, sha) = sha256_file(&direct.join(rel)).unwrap();
        assert_eq!(
            (size, &sha),
            (o.size_bytes, &o.sha256),
            "{}",
            o.path.display()
        );
    }
    let direct_files = std::fs::read_dir(&direct).unwrap().count();
    assert_eq!(m.outputs.len(), direct_files + 1);

    // Parameters the runner sets, unknown ones and a used directory are refused.
    std::fs::write(&params, r#"{"dir": "/tmp/elsewhere"}"#).unwrap();
    let o = astrolab(&home)
        .args(["run", "demo-data", "--params"])
        .arg(&params)
        .arg("--out-dir")
        .arg(tmp.path().join("run2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("params.dir"));
    std::fs::write(&params, r#"{"galaxy": 3}"#).unwrap();
    let o = astrolab(&home)
        .args(["run", "demo-data", "--params"])
        .arg(&params)
        .arg("--out-dir")
        .arg(tmp.path().join("run3"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("params.galaxy"));
    let o = astrolab(&home)
        .args(["run", "demo-data", "--params"])
        .arg(&params)
        .arg("--out-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
}
