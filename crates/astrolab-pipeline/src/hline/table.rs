//! The component table of `hline fit` as CSV (with a `NAME_rfi.csv` of the
//! flagged channels), JSON or FITS (`HI_COMPONENTS` and `RFI_FLAGS`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::{write_fits, ColumnData, ColumnOut, HduOut};
use astrolab_hline::gauss::Component;

use super::fit::Analysis;

/// One output row per component (a spectrum without components gets one row
/// with empty component fields).
struct Row<'a> {
    a: &'a Analysis,
    index: Option<usize>,
}

const HEADER: [&str; 23] = [
    "file",
    "glon_deg",
    "glat_deg",
    "lsr_source",
    "baseline_order",
    "baseline_rms_k",
    "residual_rms_k",
    "n_components",
    "component",
    "amp_k",
    "amp_err_k",
    "v_lsr_km_s",
    "v_lsr_err_km_s",
    "sigma_km_s",
    "sigma_err_km_s",
    "fwhm_km_s",
    "integral_k_km_s",
    "n_hi_cm2",
    "deviation_km_s",
    "hvc_candidate",
    "unresolved",
    "min_sigma_km_s",
    "n_flagged_channels",
];

fn rows(all: &[Analysis]) -> Vec<Row<'_>> {
    all.iter()
        .flat_map(|a| {
            let n = a.fit.components.len();
            if n == 0 {
                vec![Row { a, index: None }]
            } else {
                (0..n).map(|i| Row { a, index: Some(i) }).collect()
            }
        })
        .collect()
}

impl Row<'_> {
    fn comp(&self) -> Option<&Component> {
        self.index.map(|i| &self.a.fit.components[i])
    }
    fn values(&self) -> Vec<f64> {
        let c = self.comp();
        let g = |f: fn(&Component) -> f64| c.map_or(f64::NAN, f);
        vec![
            g(|c| c.amp_k),
            g(|c| c.amp_err_k),
            g(|c| c.center_km_s),
            g(|c| c.center_err_km_s),
            g(|c| c.sigma_km_s),
            g(|c| c.sigma_err_km_s),
            g(|c| c.fwhm_km_s()),
            g(|c| c.integral_k_km_s()),
        ]
    }
    fn deviation(&self) -> f64 {
        self.index.map_or(f64::NAN, |i| self.a.deviation_km_s[i])
    }
    fn hvc(&self) -> bool {
        self.index
            .is_some_and(|i| self.a.hvc.iter().any(|h| h.0 == i))
    }
    fn unresolved(&self) -> bool {
        self.comp()
            .is_some_and(|c| self.a.resolution.is_unresolved(c.sigma_km_s))
    }
}

/// One flagged channel run of a spectrum: (frequency Hz, v_LSR km/s,
/// signed excess K) at its peak channel.
pub fn flag_point(a: &Analysis, f: &astrolab_hline::narrowband::Flagged) -> (f64, f64, f64) {
    let c = f.peak_channel;
    (
        a.spectrum
            .freq_hz
            .as_ref()
            .and_then(|x| x.get(c).copied())
            .unwrap_or(f64::NAN),
        a.spectrum.v_lsr_km_s.get(c).copied().unwrap_or(f64::NAN),
        f.amp_k,
    )
}

/// The flagged channels of every spectrum as CSV.
fn rfi_csv(all: &[Analysis]) -> String {
    let mut s = String::from(
        "file,first_channel,width_channels,peak_channel,freq_hz,v_lsr_km_s,amp_k,source\n",
    );
    for a in all {
        for f in &a.flags.flagged {
            let (hz, v, amp) = flag_point(a, f);
            s += &format!(
                "{},{},{},{},{},{},{},{}\n",
                a.spectrum.path.display().to_string().replace(',', "_"),
                f.first_channel,
                f.width_channels,
                f.peak_channel,
                fmt(hz),
                fmt(v),
                fmt(amp),
                f.source.name()
            );
        }
    }
    s
}

/// Where the flagged-channel table of a .csv `output` goes: `NAME_rfi.csv`.
pub fn rfi_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}_rfi.csv"))
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        String::new()
    }
}

/// Writes the component table as CSV, JSON or FITS (by extension).
pub fn write_table(path: &Path, all: &[Analysis]) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let rs = rows(all);
    match ext.as_str() {
        "csv" => {
            let mut s = HEADER.join(",") + "\n";
            for r in &rs {
                let a = r.a;
                let mut f = vec![
                    a.spectrum.path.display().to_string().replace(',', "_"),
                    fmt(a.spectrum.l_deg),
                    fmt(a.spectrum.b_deg),
                    a.spectrum.lsr_source.replace(',', ";"),
                    a.baseline.order.to_string(),
                    fmt(a.baseline.rms),
                    fmt(a.fit.residual_rms_k),
                    a.fit.components.len().to_string(),
                    r.index.map(|i| i.to_string()).unwrap_or_default(),
                ];
                f.extend(r.values().into_iter().map(fmt));
                f.push(format!("{:.6e}", a.n_hi_cm2));
                f.push(fmt(r.deviation()));
                f.push(r.hvc().to_string());
                f.push(r.unresolved().to_string());
                f.push(fmt(a.resolution.min_sigma_km_s()));
                f.push(a.flags.excluded.iter().filter(|x| **x).count().to_string());
                s += &(f.join(",") + "\n");
            }
            write_atomic(path, s.as_bytes())?;
            write_atomic(&rfi_path(path), rfi_csv(all).as_bytes())
        }
        "json" => {
            let list: Vec<serde_json::Value> = all.iter().map(analysis_json).collect();
            let text = serde_json::to_string_pretty(&list)?;
            write_atomic(path, text.as_bytes())
        }
        "fits" | "fit" => {
            let col = |k: usize| ColumnData::F64(rs.iter().map(|r| r.values()[k]).collect());
            let columns = vec![
                ColumnOut::new(
                    "FILE",
                    ColumnData::Str {
                        width: rs
                            .iter()
                            .map(|r| r.a.spectrum.name.len())
                            .max()
                            .unwrap_or(1)
                            .max(1),
                        values: rs.iter().map(|r| r.a.spectrum.name.clone()).collect(),
                    },
                ),
                ColumnOut::new(
                    "GLON",
                    ColumnData::F64(rs.iter().map(|r| r.a.spectrum.l_deg).collect()),
                )
                .with_unit("deg"),
                ColumnOut::new(
                    "GLAT",
                    ColumnData::F64(rs.iter().map(|r| r.a.spectrum.b_deg).collect()),
                )
                .with_unit("deg"),
                ColumnOut::new(
                    "N_COMPONENTS",
                    ColumnData::I32(rs.iter().map(|r| r.a.fit.components.len() as i32).collect()),
                ),
                ColumnOut::new(
                    "COMPONENT",
                    ColumnData::I32(
                        rs.iter()
                            .map(|r| r.index.map_or(-1, |i| i as i32))
                            .collect(),
                    ),
                ),
                ColumnOut::new("AMP", col(0)).with_unit("K"),
                ColumnOut::new("AMP_ERR", col(1)).with_unit("K"),
                ColumnOut::new("VELO_LSR", col(2)).with_unit("km/s"),
                ColumnOut::new("VELO_LSR_ERR", col(3)).with_unit("km/s"),
                ColumnOut::new("SIGMA", col(4)).with_unit("km/s"),
                ColumnOut::new("SIGMA_ERR", col(5)).with_unit("km/s"),
                ColumnOut::new("FWHM", col(6)).with_unit("km/s"),
                ColumnOut::new("INTEGRAL", col(7)).with_unit("K km/s"),
                ColumnOut::new(
                    "N_HI",
                    ColumnData::F64(rs.iter().map(|r| r.a.n_hi_cm2).collect()),
                )
                .with_unit("cm-2"),
                ColumnOut::new(
                    "DEVIATION",
                    ColumnData::F64(rs.iter().map(|r| r.deviation()).collect()),
                )
                .with_unit("km/s"),
                ColumnOut::new(
                    "HVC",
                    ColumnData::Bool(rs.iter().map(|r| r.hvc()).collect()),
                ),
                ColumnOut::new(
                    "UNRESOLVED",
                    ColumnData::Bool(rs.iter().map(|r| r.unresolved()).collect()),
                ),
                ColumnOut::new(
                    "MIN_SIGMA",
                    ColumnData::F64(rs.iter().map(|r| r.a.resolution.min_sigma_km_s()).collect()),
                )
                .with_unit("km/s"),
            ];
            let flags: Vec<(&Analysis, (f64, f64, f64), &str)> = all
                .iter()
                .flat_map(|a| {
                    a.flags
                        .flagged
                        .iter()
                        .map(move |f| (a, flag_point(a, f), f.source.name()))
                })
                .collect();
            let rfi = vec![
                ColumnOut::new(
                    "FILE",
                    ColumnData::Str {
                        width: flags
                            .iter()
                            .map(|f| f.0.spectrum.name.len())
                            .max()
                            .unwrap_or(1)
                            .max(1),
                        values: flags.iter().map(|f| f.0.spectrum.name.clone()).collect(),
                    },
                ),
                ColumnOut::new(
                    "FREQ",
                    ColumnData::F64(flags.iter().map(|f| f.1 .0).collect()),
                )
                .with_unit("Hz"),
                ColumnOut::new(
                    "VELO_LSR",
                    ColumnData::F64(flags.iter().map(|f| f.1 .1).collect()),
                )
                .with_unit("km/s"),
                ColumnOut::new(
                    "AMP",
                    ColumnData::F64(flags.iter().map(|f| f.1 .2).collect()),
                )
                .with_unit("K"),
                ColumnOut::new(
                    "SOURCE",
                    ColumnData::Str {
                        width: 10,
                        values: flags.iter().map(|f| f.2.to_string()).collect(),
                    },
                ),
            ];
            write_fits(
                path,
                &[
                    HduOut::Table {
                        extname: Some("HI_COMPONENTS".into()),
                        header: vec![astrolab_formats::Card::str("SPECSYS", "LSRK")],
                        columns,
                    },
                    HduOut::Table {
                        extname: Some("RFI_FLAGS".into()),
                        header: Vec::new(),
                        columns: rfi,
                    },
                ],
            )
            .with_context(|| format!("writing {}", path.display()))
        }
        other => bail!(
            "{}: unknown output format '{other}' (use .csv, .json or .fits)",
            path.display()
        ),
    }
}

/// One spectrum's analysis as JSON (the `.json` table's entry, also what
/// a run of `hline fit` records): NaN and infinities as null.
pub fn analysis_json(a: &Analysis) -> serde_json::Value {
    serde_json::json!({
        "file": a.spectrum.path.display().to_string(),
        "glon_deg": finite(a.spectrum.l_deg),
        "glat_deg": finite(a.spectrum.b_deg),
        "lsr_source": a.spectrum.lsr_source,
        "baseline_order": a.baseline.order,
        "baseline_rms_k": finite(a.baseline.rms),
        "residual_rms_k": finite(a.fit.residual_rms_k),
        "bic": finite(a.fit.bic),
        "n_hi_cm2": finite(a.n_hi_cm2),
        "channel_width_km_s": finite(a.resolution.channel_width_km_s),
        "min_sigma_km_s": finite(a.resolution.min_sigma_km_s()),
        "min_fwhm_km_s": finite(a.resolution.min_fwhm_km_s()),
        "strongest_resolved": a.strongest_resolved().and_then(|s| a.fit.components.iter().position(|c| c == s)),
        "flagged_channels": a.flags.flagged.iter().map(|f| {
            let (hz, v, amp) = flag_point(a, f);
            serde_json::json!({
                "first_channel": f.first_channel, "width_channels": f.width_channels,
                "peak_channel": f.peak_channel, "freq_hz": finite(hz),
                "v_lsr_km_s": finite(v), "amp_k": finite(amp), "source": f.source.name(),
            })
        }).collect::<Vec<_>>(),
        "components": a.fit.components.iter().enumerate().map(|(i, c)| serde_json::json!({
            "amp_k": finite(c.amp_k), "amp_err_k": finite(c.amp_err_k),
            "v_lsr_km_s": finite(c.center_km_s), "v_lsr_err_km_s": finite(c.center_err_km_s),
            "sigma_km_s": finite(c.sigma_km_s), "sigma_err_km_s": finite(c.sigma_err_km_s),
            "fwhm_km_s": finite(c.fwhm_km_s()), "integral_k_km_s": finite(c.integral_k_km_s()),
            "deviation_km_s": finite(a.deviation_km_s[i]),
            "hvc_candidate": a.hvc.iter().any(|h| h.0 == i),
            "unresolved": a.resolution.is_unresolved(c.sigma_km_s),
        })).collect::<Vec<_>>(),
    })
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

pub use crate::output::write_file as write_atomic;
