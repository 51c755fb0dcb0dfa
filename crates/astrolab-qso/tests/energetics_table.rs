//! The energetics table and its record of assumptions, serialised as the
//! pipeline layer will store them.

use astrolab_qso::energetics::{energetics, table_tsv, OutflowInput, ReferenceContinuum};

#[test]
fn table_and_assumptions_serialise() {
    let rows: Vec<_> = [
        OutflowInput::new(
            "A 1350",
            (21.0, -2.0, 4.0),
            5000.0,
            ReferenceContinuum::A1350,
            1e46,
        ),
        OutflowInput::new(
            "B 3000",
            (22.0, -1.0, 4.0),
            10000.0,
            ReferenceContinuum::A3000,
            5e45,
        ),
    ]
    .iter()
    .map(|i| energetics(i).expect("valid input"))
    .collect();
    let tsv = table_tsv(&rows);
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("name\tlog_NH_cm2\tlog_U"));
    assert_eq!(lines[1].split('\t').count(), lines[0].split('\t').count());
    assert!(lines[1].contains("1.266577e3"), "{}", lines[1]);

    let json = serde_json::to_value(&rows[1]).expect("serialises");
    let a = &json["assumptions"];
    assert_eq!(a["bolometric_correction"], 5.15);
    assert_eq!(a["reference_wavelength_a"], 3000.0);
    assert_eq!(a["omega"], 0.2);
    assert_eq!(a["mu"], 1.4);
    assert!(a["sed"]
        .as_str()
        .is_some_and(|s| s.contains("Mathews & Ferland")));
    let names: Vec<&str> = a["constants"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["c", "h", "m_p", "G", "M_sun", "pc", "yr", "1 Ryd"]);
    assert_eq!(json["input"]["reference"], "A3000");
}
