//! `astrolab outflows cloudy-grid` and `cloudy-solve` on the real Cloudy
//! grid of the shared data (`cloudy/grid-agn-logn4`: log n_H 4, log U -3..-1
//! x log N_H 20..22, run with a 2019 development Cloudy; see its README).

mod common;

use std::path::Path;

use common::{bin, text};

fn grid_dir() -> Option<std::path::PathBuf> {
    let data = astrolab_formats::testdata::require_shared_data("outflows_cloudy")?;
    Some(data.join("cloudy/grid-agn-logn4"))
}

fn astrolab(home: &Path, args: &[&str]) -> std::process::Output {
    bin().arg("--home").arg(home).args(args).output().unwrap()
}

const MODELS: [(&str, f64, f64); 9] = [
    ("agn_n4_Um3_N20", -3.0, 20.0),
    ("agn_n4_Um3_N21", -3.0, 21.0),
    ("agn_n4_Um3_N22", -3.0, 22.0),
    ("agn_n4_Um2_N20", -2.0, 20.0),
    ("agn_n4_Um2_N21", -2.0, 21.0),
    ("agn_n4_Um2_N22", -2.0, 22.0),
    ("agn_n4_Um1_N20", -1.0, 20.0),
    ("agn_n4_Um1_N21", -1.0, 21.0),
    ("agn_n4_Um1_N22", -1.0, 22.0),
];

#[test]
fn the_decks_are_the_labs_and_a_cloudy_binary_runs_each_model() {
    let Some(grid) = grid_dir() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("decks");
    let args = [
        "outflows",
        "cloudy-grid",
        "--out",
        out.to_str().unwrap(),
        "--log-u-min",
        "-3",
        "--step",
        "1",
        "--log-nh-min",
        "20",
        "--log-nh-max",
        "22",
        "--vary",
    ];
    let o = astrolab(&d.path().join("home"), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("9 Cloudy decks in"), "{}", text(&o));
    // Our decks are the ones the lab's grid was run from, byte for byte,
    // and so is the single `vary`/`grid` deck.
    for (stem, _, _) in MODELS {
        let ours = std::fs::read(out.join(format!("{stem}.in"))).unwrap();
        assert_eq!(
            ours,
            std::fs::read(grid.join(format!("{stem}.in"))).unwrap(),
            "{stem}"
        );
    }
    assert_eq!(
        std::fs::read(out.join("agn_n4_grid.in")).unwrap(),
        std::fs::read(grid.join("vary_grid/agn_n4_grid.in")).unwrap()
    );
    // A stand-in for the Cloudy binary (none can be installed here): it
    // writes the real model's .out for the deck it is given (`-r STEM`),
    // so the shards run it, and check the output ended normally.
    let fake = d.path().join("cloudy.exe");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n[ \"$1\" = -r ] && [ -f \"$2.in\" ] || exit 3\ncp {}/\"$2\".out \"$2.out\"\n",
            grid.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ran = d.path().join("ran");
    let mut a: Vec<&str> = args.to_vec();
    a[3] = ran.to_str().unwrap();
    let o = bin()
        .env("CLOUDY_EXE", &fake)
        .arg("--home")
        .arg(d.path().join("home"))
        .args(&a)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("; 9 models run with Cloudy"),
        "{}",
        text(&o)
    );
    for (stem, _, _) in MODELS {
        assert!(ran.join(format!("{stem}.out")).is_file(), "{stem}");
    }
    // A model that Cloudy does not finish is an error naming it.
    std::fs::write(&fake, "#!/bin/sh\nexit 7\n").unwrap();
    let failed = d.path().join("failed");
    a[3] = failed.to_str().unwrap();
    let o = bin()
        .env("CLOUDY_EXE", &fake)
        .arg("--home")
        .arg(d.path().join("home"))
        .args(&a)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("Cloudy exited with exit status: 7 on agn_n4_Um"),
        "{}",
        text(&o)
    );
}

/// log10 of a species' column in a model's `.col` (the file's own numbers).
fn log_col(grid: &Path, stem: &str, species: &str) -> f64 {
    let t = std::fs::read_to_string(grid.join(format!("{stem}.col"))).unwrap();
    let mut lines = t.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .trim_start_matches('#')
        .trim_start_matches("column density")
        .split('\t')
        .map(|s| s.trim().to_string())
        .collect();
    let vals: Vec<f64> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let i = names.iter().position(|n| n == species).unwrap();
    vals[i].log10()
}

#[test]
fn every_model_is_recovered_from_its_own_columns_with_its_energetics() {
    let Some(grid) = grid_dir() else { return };
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("OUTFLOW,SPECIES,LOG_N,SIGMA_DEX\n");
    for (stem, _, _) in MODELS {
        for sp in ["C+3", "N+4", "Si+3", "Al+2", "Mg+", "H"] {
            csv.push_str(&format!("{stem},{sp},{},0.05\n", log_col(&grid, stem, sp)));
        }
    }
    let cols = d.path().join("cols.csv");
    std::fs::write(&cols, csv).unwrap();
    let kin = d.path().join("kin.csv");
    std::fs::write(
        &kin,
        "OUTFLOW,V_KM_S,REFERENCE,LAMBDA_L_LAMBDA_ERG_S\nagn_n4_Um2_N21,5000,1350,1e46\n",
    )
    .unwrap();
    let (out, json) = (d.path().join("out.csv"), d.path().join("out.json"));
    let o = astrolab(
        &d.path().join("home"),
        &[
            "outflows",
            "cloudy-solve",
            "--grid",
            grid.to_str().unwrap(),
            "--columns",
            cols.to_str().unwrap(),
            "--outflows",
            kin.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 9);
    for ((stem, u, n), r) in MODELS.iter().zip(&rows) {
        assert_eq!(r[0], *stem);
        let (lu, ln): (f64, f64) = (r[2].parse().unwrap(), r[5].parse().unwrap());
        assert!(
            (lu - u).abs() < 1e-4 && (ln - n).abs() < 1e-4,
            "{stem}: {lu} {ln}"
        );
        // Only the centre of the 3 x 3 grid is away from its edges.
        assert_eq!(
            r[10],
            if *stem == "agn_n4_Um2_N21" {
                "false"
            } else {
                "true"
            },
            "{stem}"
        );
    }
    // The energetics of the centre model (log N_H 21, log U -2, log n_H 4,
    // 5000 km/s, lambda L_1350 = 1e46 erg/s): R = sqrt(Q_H / (4 pi U n_H
    // c)), Mdot = 4 pi Omega R N_H mu m_p v, E_k = Mdot v^2 / 2 (values as
    // astrolab_qso's energetics test computes them independently).
    let centre = &rows[4];
    assert_eq!(
        &centre[12..],
        &[
            "1266.5769939804898",
            "182.52227860642665",
            "1.43756615048086e45",
            "0.03773139502574435"
        ]
    );
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(record["log_u_nodes"], serde_json::json!([-3.0, -2.0, -1.0]));
    assert_eq!(
        record["outflows"][4]["energetics"]["assumptions"]["bolometric_correction"],
        3.81
    );

    // Bad input names the file, line and column, or the species.
    let bad = d.path().join("bad.csv");
    for (content, want) in [
        ("OUTFLOW,SPECIES,LOG_N,SIGMA_DEX\nX,C+9,15,0.1\n", "C+9"),
        (
            "OUTFLOW,SPECIES,LOG_N,SIGMA_DEX\nX,C+3,fifteen,0.1\n",
            "line 2, column LOG_N",
        ),
        ("OUTFLOW,SPECIES,LOG_N\nX,C+3,15\n", "no column SIGMA_DEX"),
        (
            "OUTFLOW,SPECIES,LOG_N,SIGMA_DEX,CONSTRAINT\nX,C+3,15,0.1,maybe\n",
            "column CONSTRAINT",
        ),
    ] {
        std::fs::write(&bad, content).unwrap();
        let o = astrolab(
            &d.path().join("home"),
            &[
                "outflows",
                "cloudy-solve",
                "--grid",
                grid.to_str().unwrap(),
                "--columns",
                bad.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
            ],
        );
        assert_ne!(o.status.code(), Some(0), "{content}");
        assert!(text(&o).contains(want), "{want:?} not in {}", text(&o));
    }
    // A directory without Cloudy runs.
    let o = astrolab(
        &d.path().join("home"),
        &[
            "outflows",
            "cloudy-solve",
            "--grid",
            d.path().to_str().unwrap(),
            "--columns",
            cols.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(text(&o).contains("no Cloudy runs"), "{}", text(&o));
}
