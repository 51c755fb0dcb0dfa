//! Cloudy parsers, decks, grid and solve on the real Cloudy outputs in
//! `$ASTROLAB_SHARED_DATA/cloudy/grid-agn-logn4` (9 separate models and the
//! same grid run with `vary`/`grid`; see that folder's README).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use astrolab_qso::cloudy::deck::{parse_deck, GridAxis, GridSpec, ModelDeck};
use astrolab_qso::cloudy::grid::{ColumnGrid, GridModel};
use astrolab_qso::cloudy::parse::{
    parse_col, parse_col_blocks, parse_grd, parse_out, parse_ovr, parse_ovr_blocks, species_label,
    split_grid_out, ColumnDensities,
};
use astrolab_qso::cloudy::solve::{solve, ColumnMeasurement, Constraint, Solution, SolveOptions};
use astrolab_qso::energetics::q_h_per_nu_l_nu_1ryd;
use common::{cloudy_dir, read};

/// The ions of issue 19 (C IV, Si IV, N V, Al III, Mg II, H I) and O VI.
const IONS: [&str; 7] = ["C IV", "Si IV", "N V", "Al III", "Mg II", "H I", "O VI"];

/// The 9 models, log U varying slowest (the grid run's order).
pub fn models() -> Vec<(f64, f64, String)> {
    let mut v = Vec::new();
    for (u, tag) in [(-3.0, "m3"), (-2.0, "m2"), (-1.0, "m1")] {
        for n in [20.0, 21.0, 22.0] {
            v.push((u, n, format!("agn_n4_U{tag}_N{n}")));
        }
    }
    v
}

/// Every file in the folder parses with the parser for its kind.
#[test]
fn every_file_parses() {
    let Some(dir) = cloudy_dir("every_file_parses") else {
        return;
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.display().to_string();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_string();
            let text = read(&path);
            let is_grid = path.parent().is_some_and(|p| p.ends_with("vary_grid"));
            match ext.as_str() {
                "in" => {
                    let d = parse_deck(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(d.continuum.as_deref(), Some("table AGN"), "{name}");
                    assert_eq!(d.species.len(), 21, "{name}");
                }
                "out" if is_grid => {
                    let g = split_grid_out(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(g.models.len(), 9, "{name}");
                    let pre = parse_out(g.preamble, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(pre.zones, Some(0), "the grid driver's dummy run");
                    for (i, block) in g.models {
                        let o = parse_out(block, &format!("{name} grid {i}"))
                            .unwrap_or_else(|e| panic!("{e}"));
                        assert!(o.ended_normally(), "{name} grid {i}");
                    }
                }
                "out" => {
                    let o = parse_out(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert!(o.ended_normally(), "{name}");
                }
                "col" => {
                    let b = parse_col_blocks(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(b.len(), if is_grid { 9 } else { 1 }, "{name}");
                }
                "ovr" => {
                    let b = parse_ovr_blocks(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(b.len(), if is_grid { 9 } else { 1 }, "{name}");
                    assert!(b.iter().all(|o| !o.rows.is_empty()), "{name}");
                }
                "grd" => {
                    let g = parse_grd(&text, &name).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(g.points.len(), 9, "{name}");
                }
                "md" | "tsv" => {}
                other => panic!("{name}: no parser for `.{other}` files; add one or list it here"),
            }
            *counts.entry(ext).or_default() += 1;
        }
    }
    let expect: BTreeMap<String, usize> = [
        ("col", 10),
        ("grd", 1),
        ("in", 10),
        ("md", 1),
        ("out", 10),
        ("ovr", 10),
        ("tsv", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, expect);
}

/// Our decks equal the real ones line for line.
#[test]
fn decks_reproduce_the_real_ones() {
    let Some(dir) = cloudy_dir("decks_reproduce_the_real_ones") else {
        return;
    };
    for (u, n, stem) in models() {
        let ours = ModelDeck::new(4.0, u, n);
        assert_eq!(ours.stem(), stem);
        let real = read(&dir.join(format!("{stem}.in")));
        for (k, (a, b)) in ours.text().lines().zip(real.lines()).enumerate() {
            assert_eq!(a, b, "{stem}.in line {}", k + 1);
        }
        assert_eq!(ours.text(), real, "{stem}.in");
    }
    let spec = GridSpec {
        log_hden_cm3: 4.0,
        log_u: GridAxis {
            lo: -3.0,
            hi: -1.0,
            step: 1.0,
        },
        log_nh_cm2: GridAxis {
            lo: 20.0,
            hi: 22.0,
            step: 1.0,
        },
        species: ModelDeck::new(4.0, -2.0, 21.0).species,
    };
    let vary = spec.vary_deck();
    assert_eq!(vary.stem, "agn_n4_grid");
    assert_eq!(vary.text, read(&dir.join("vary_grid/agn_n4_grid.in")));
    let stems: Vec<String> = spec.separate_decks().into_iter().map(|d| d.stem).collect();
    let expect: Vec<String> = models().into_iter().map(|m| m.2).collect();
    assert_eq!(stems, expect);
}

/// `timings.tsv`: model -> (zones of the last iteration, cautions).
fn timings(dir: &Path) -> BTreeMap<String, (u32, u32)> {
    read(&dir.join("timings.tsv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let num = |i: usize| f[i].parse::<u32>().expect("integer column in timings.tsv");
            (f[0].to_string(), (num(7), num(9)))
        })
        .collect()
}

/// The `.out` key numbers agree with the deck, the README's timings, the
/// `.col` file and Cloudy's own continuum summary.
#[test]
fn out_key_numbers() {
    let Some(dir) = cloudy_dir("out_key_numbers") else {
        return;
    };
    let t = timings(&dir);
    let c_cm_s = astrolab_qso::energetics::C_CM_S;
    for (u, n, stem) in models() {
        let o = parse_out(&read(&dir.join(format!("{stem}.out"))), &stem).expect("parses");
        assert_eq!(o.version, "Cloudy (trunk, exported, experimental)");
        assert!(
            o.input.iter().any(|l| l == "table AGN"),
            "{stem}: {:?}",
            o.input
        );
        assert!(
            o.input.contains(&format!("ionization parameter {u:.1}")),
            "{stem}"
        );
        assert_eq!(o.stops.len(), 2, "{stem}");
        for (k, s) in o.stops.iter().enumerate() {
            assert_eq!(s.reason, "H column dens reached.");
            assert_eq!((s.iteration, s.of), (k as u32 + 1, 2));
        }
        assert_eq!(o.log_u, Some(u), "{stem}");
        assert_eq!(o.iterations, Some(2));
        assert_eq!(
            (o.zones, o.n_cautions),
            (Some(t[&stem].0), t[&stem].1),
            "{stem}"
        );
        assert_eq!(
            o.cautions.len() as u32,
            o.n_cautions,
            "{stem}: {:?}",
            o.cautions
        );
        assert!(o.warnings.is_empty() && o.exited_ok && o.ended_normally());
        assert!(o.exec_time_s.is_some_and(|s| s > 0.0));
        // The table's total hydrogen column is the requested N_H.
        let nh = o.log_nh_cm2().expect("hydrogen row");
        assert!((nh - n).abs() < 0.002, "{stem}: log N_H {nh}");
        // The .out table and the .col file agree (3 decimals printed).
        let col = parse_col(&read(&dir.join(format!("{stem}.col"))), &stem).expect("parses");
        for (element, stage, label) in [
            ("Carbon", 4, "C+3"),
            ("Silicon", 4, "Si+3"),
            ("Nitrogen", 5, "N+4"),
            ("Magnesium", 2, "Mg+"),
            ("Aluminium", 3, "Al+2"),
            ("Hydrogen", 1, "H"),
        ] {
            let a = o.log_column(element, stage).expect("in the table");
            let b = col.log10(label).expect("in the .col");
            assert!((a - b).abs() < 0.0015, "{stem} {label}: .out {a} .col {b}");
        }
        // Φ(H) = U n_H c (the definition of U; 4 digits printed).
        let phi = o.phi_h_cm2_s.expect("Ion pht flx");
        let want = 10f64.powf(u) * 1e4 * c_cm_s;
        assert!((phi / want - 1.0).abs() < 1e-3, "{stem}: {phi} vs {want}");
        // Our MF87 integral gives Cloudy's own Φ(H)/νF_ν(912 Å).
        let ratio = phi / o.nu_f_nu_912_erg_cm2_s.expect("nuJnu(912A)");
        let ours = q_h_per_nu_l_nu_1ryd();
        assert!(
            (ratio / ours - 1.0).abs() < 2e-3,
            "{stem}: Cloudy {ratio:e}, ours {ours:e}"
        );
    }
}

/// `.col` and `.ovr` content checks from the README.
#[test]
fn col_and_ovr_content() {
    let Some(dir) = cloudy_dir("col_and_ovr_content") else {
        return;
    };
    let t = timings(&dir);
    for (_, n, stem) in models() {
        let col = parse_col(&read(&dir.join(format!("{stem}.col"))), &stem).expect("parses");
        assert_eq!(col.species.len(), 21);
        let g = |s: &str| col.get(s).expect("species present");
        let total = (g("H") + g("H+") + 2.0 * g("H2")).log10();
        assert!((total - n).abs() < 0.001, "{stem}: {total}");
        let o = parse_ovr(&read(&dir.join(format!("{stem}.ovr"))), &stem).expect("parses");
        assert_eq!(o.columns.len(), 25);
        assert_eq!(o.rows.len() as u32, t[&stem].0, "{stem}: one row per zone");
        let depth = o.depth_cm().expect("depth");
        assert!(
            depth.windows(2).all(|w| w[1] > w[0]),
            "{stem}: depth increases"
        );
        assert!(o
            .hden_cm3()
            .expect("hden")
            .iter()
            .all(|h| (h / 1e4 - 1.0).abs() < 1e-4));
        // Beyond the H ionization front (`stop temperature off`) the gas cools
        // to ~80 K in the thick low-U models.
        assert!(o.te_k().expect("Te").iter().all(|t| *t > 50.0 && *t < 1e5));
        assert!(o.eden_cm3().expect("eden").iter().all(|e| *e > 0.0));
        let (hi, hii, h2) = (
            o.column("HI").expect("HI"),
            o.column("HII").expect("HII"),
            o.column("2H_2/H").expect("H2"),
        );
        for k in 0..hi.len() {
            let sum = hi[k] + hii[k] + h2[k];
            assert!(
                (sum - 1.0).abs() < 2e-3,
                "{stem} zone {k}: H fractions sum to {sum}"
            );
        }
    }
}

/// The README: the grid run's `.col` and `.ovr` match the separate runs
/// digit for digit, and its `.out` blocks give the same key numbers.
#[test]
fn grid_run_matches_separate_runs() {
    let Some(dir) = cloudy_dir("grid_run_matches_separate_runs") else {
        return;
    };
    let g = dir.join("vary_grid");
    let grd = parse_grd(&read(&g.join("agn_n4_grid.grd")), "agn_n4_grid.grd").expect("parses");
    assert_eq!(grd.parameters, ["IONIZATIO", "STOP COLU"]);
    let cols =
        parse_col_blocks(&read(&g.join("agn_n4_grid.col")), "agn_n4_grid.col").expect("parses");
    let ovrs =
        parse_ovr_blocks(&read(&g.join("agn_n4_grid.ovr")), "agn_n4_grid.ovr").expect("parses");
    let out_text = read(&g.join("agn_n4_grid.out"));
    let outs = split_grid_out(&out_text, "agn_n4_grid.out").expect("splits");
    for (i, (u, n, stem)) in models().into_iter().enumerate() {
        let p = &grd.points[i];
        assert_eq!((p.index, p.values.as_slice()), (i, &[u, n][..]));
        assert!(!p.failure && !p.warnings && p.exit_code == "ok");
        let col = parse_col(&read(&dir.join(format!("{stem}.col"))), &stem).expect("parses");
        assert_eq!(cols[i], col, "{stem}: .col block {i}");
        let ovr = parse_ovr(&read(&dir.join(format!("{stem}.ovr"))), &stem).expect("parses");
        assert_eq!(ovrs[i], ovr, "{stem}: .ovr block {i}");
        let (idx, block) = outs.models[i];
        assert_eq!(idx, i);
        let a = parse_out(block, "grid").expect("parses");
        let b = parse_out(&read(&dir.join(format!("{stem}.out"))), &stem).expect("parses");
        assert_eq!(
            (a.log_u, a.zones, a.n_cautions, &a.stops),
            (b.log_u, b.zones, b.n_cautions, &b.stops),
            "{stem}"
        );
        assert_eq!(a.columns, b.columns, "{stem}: final column table");
        assert_eq!(a.cautions, b.cautions, "{stem}");
    }
    // The grid built from the vary/grid run is the grid of the separate runs.
    let from_run = ColumnGrid::from_models(
        4.0,
        &GridModel::from_grid_run(&grd, cols).expect("matching run"),
    )
    .expect("rectangular");
    let (separate, _) = real_grid(&dir, |_, _| true);
    assert_eq!(from_run, separate);
}

/// The 9 models as a grid (only the nodes in `keep`).
fn real_grid(
    dir: &Path,
    keep: impl Fn(f64, f64) -> bool,
) -> (ColumnGrid, BTreeMap<String, ColumnDensities>) {
    let mut all = BTreeMap::new();
    let mut models_kept = Vec::new();
    for (u, n, stem) in models() {
        let col = parse_col(&read(&dir.join(format!("{stem}.col"))), &stem).expect("parses");
        if keep(u, n) {
            models_kept.push(GridModel {
                log_u: u,
                log_nh_cm2: n,
                columns: col.clone(),
            });
        }
        all.insert(format!("{u} {n}"), col);
    }
    (
        ColumnGrid::from_models(4.0, &models_kept).expect("rectangular"),
        all,
    )
}

fn measured(col: &ColumnDensities, sigma: f64) -> Vec<ColumnMeasurement> {
    IONS.iter()
        .map(|ion| {
            let species = species_label(ion).expect("valid ion");
            ColumnMeasurement {
                log_cm2: col.log10(&species).expect("saved species"),
                species,
                sigma_dex: sigma,
                constraint: Constraint::Measured,
            }
        })
        .collect()
}

fn show(what: &str, s: &Solution) {
    eprintln!(
        "{what}: log U {:.4} [{:.3}, {:.3}], log N_H {:.4} [{:.3}, {:.3}], chi2 {:.3} (dof {}), at_edge {}, region_at_edge {}",
        s.log_u, s.log_u_range.0, s.log_u_range.1, s.log_nh_cm2, s.log_nh_range.0, s.log_nh_range.1, s.chi2_min, s.dof, s.at_edge, s.region_at_edge
    );
}

/// Every grid model's own columns (0.05 dex errors) give back its (U, N_H).
#[test]
fn solve_recovers_every_grid_model() {
    let Some(dir) = cloudy_dir("solve_recovers_every_grid_model") else {
        return;
    };
    let (grid, all) = real_grid(&dir, |_, _| true);
    for (u, n, stem) in models() {
        let s = solve(
            &grid,
            &measured(&all[&format!("{u} {n}")], 0.05),
            &SolveOptions::default(),
        )
        .expect("solvable");
        show(&stem, &s);
        assert!(
            (s.log_u - u).abs() < 0.01 && (s.log_nh_cm2 - n).abs() < 0.01,
            "{stem}: {s:?}"
        );
        assert!(s.chi2_min < 1e-6);
        // Only the centre model is inside the grid; the others sit on its edge.
        assert_eq!(s.at_edge, !(u == -2.0 && n == 21.0), "{stem}");
        assert!(s.log_u_range.0 <= u && u <= s.log_u_range.1);
        assert!(s.log_nh_range.0 <= n && n <= s.log_nh_range.1);
    }
    // A point between the nodes, with the grid's own interpolated columns:
    // the solve inverts the interpolation exactly.
    let (u, n) = (-1.63, 21.37);
    let m: Vec<ColumnMeasurement> = IONS
        .iter()
        .map(|ion| {
            let species = species_label(ion).expect("valid ion");
            ColumnMeasurement {
                log_cm2: grid.interpolate(&species, u, n).expect("inside"),
                species,
                sigma_dex: 0.05,
                constraint: Constraint::Measured,
            }
        })
        .collect();
    let s = solve(&grid, &m, &SolveOptions::default()).expect("solvable");
    show("between nodes, interpolated columns", &s);
    assert!(
        (s.log_u - u).abs() < 1e-3 && (s.log_nh_cm2 - n).abs() < 1e-3,
        "{s:?}"
    );
    assert!(!s.at_edge);
}

/// Leave the centre model out: the 4 corner models (log U -3, -1 x log N_H
/// 20, 22) predict the centre (-2, 21) by interpolation, and the solve on
/// the centre's true columns lands within the error that interpolation
/// makes. Measured on the lab's grid: bilinear interpolation across 2 dex
/// cells misses the centre's columns by 0.04 (H I) to 1.35 (Si IV) dex,
/// and the solve lands at (log U, log N_H) = (-1.653, 21.731), 0.35 and
/// 0.73 dex off: a 1-dex grid is too coarse for science; the grid
/// should use steps of 0.2-0.25 dex.
#[test]
fn solve_between_models_within_interpolation_error() {
    let Some(dir) = cloudy_dir("solve_between_models_within_interpolation_error") else {
        return;
    };
    let (corners, all) = real_grid(&dir, |u, n| u != -2.0 && n != 21.0);
    let truth = &all["-2 21"];
    let mut worst: f64 = 0.0;
    for ion in IONS {
        let sp = species_label(ion).expect("valid ion");
        let err = corners.interpolate(&sp, -2.0, 21.0).expect("inside")
            - truth.log10(&sp).expect("saved");
        eprintln!("interpolation error at (-2, 21), {ion}: {err:+.3} dex");
        worst = worst.max(err.abs());
    }
    let s = solve(&corners, &measured(truth, 0.05), &SolveOptions::default()).expect("solvable");
    show("centre from the corners", &s);
    eprintln!("largest column interpolation error {worst:.3} dex");
    assert!(
        (s.log_u + 2.0).abs() <= worst && (s.log_nh_cm2 - 21.0).abs() <= worst,
        "{s:?}"
    );
}

/// Columns from outside the grid are reported as such.
#[test]
fn off_grid_columns_are_flagged() {
    let Some(dir) = cloudy_dir("off_grid_columns_are_flagged") else {
        return;
    };
    let (small, all) = real_grid(&dir, |u, n| u <= -2.0 && n <= 21.0);
    let s = solve(
        &small,
        &measured(&all["-1 22"], 0.05),
        &SolveOptions::default(),
    )
    .expect("solvable");
    show("(-1, 22) on the grid log U -3..-2, log N_H 20..21", &s);
    assert!(s.at_edge && s.region_at_edge, "{s:?}");
    // And the fit is bad: chi2 per degree of freedom far above 1.
    assert!(s.chi2_min / s.dof as f64 > 10.0, "{s:?}");
}
