//! Runs Cloudy on one of our decks when `CLOUDY_EXE` names a Cloudy
//! executable (no binary can be installed on the lab's build machines, so
//! this is skipped there) and checks that our parsers read what it writes
//! and that it reaches the requested column. The numbers are compared with
//! the lab's grid only loosely: another Cloudy version or atomic data set
//! gives other columns.

mod common;

use std::process::Command;

use astrolab_qso::cloudy::deck::ModelDeck;
use astrolab_qso::cloudy::parse::{parse_col, parse_out, parse_ovr};

#[test]
fn cloudy_runs_our_deck() {
    let Some(exe) = std::env::var_os("CLOUDY_EXE") else {
        eprintln!("skipping cloudy_runs_our_deck: CLOUDY_EXE is not set");
        return;
    };
    let deck = ModelDeck::new(4.0, -1.0, 20.0).named();
    let dir = std::env::temp_dir().join(format!("astrolab-qso-cloudy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    std::fs::write(dir.join(format!("{}.in", deck.stem)), &deck.text).expect("deck written");
    let status = Command::new(&exe)
        .args(deck.cloudy_args())
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| panic!("running CLOUDY_EXE {exe:?}: {e}"));
    assert!(status.success(), "Cloudy exited with {status}");
    let file = |ext: &str| common::read(&dir.join(format!("{}.{ext}", deck.stem)));
    let out = parse_out(&file("out"), "out").expect("our .out parser reads it");
    assert!(out.exited_ok, "Cloudy did not exit OK");
    let nh = out.log_nh_cm2().expect("column table");
    assert!((nh - 20.0).abs() < 0.01, "log N_H {nh}");
    let col = parse_col(&file("col"), "col").expect("our .col parser reads it");
    assert!(col.get("C+3").is_some_and(|c| c > 0.0));
    let ovr = parse_ovr(&file("ovr"), "ovr").expect("our .ovr parser reads it");
    assert!(!ovr.rows.is_empty());
    if let Some(data) = common::cloudy_dir("cloudy_runs_our_deck (comparison)") {
        let lab =
            parse_col(&common::read(&data.join("agn_n4_Um1_N20.col")), "lab").expect("parses");
        for s in ["H", "C+3", "Si+3", "N+4"] {
            let (a, b) = (
                col.log10(s).unwrap_or(f64::NAN),
                lab.log10(s).unwrap_or(f64::NAN),
            );
            eprintln!("{s}: this Cloudy {a:.3}, the lab's grid {b:.3}");
            assert!((a - b).abs() < 0.5, "{s}: {a} vs {b}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
