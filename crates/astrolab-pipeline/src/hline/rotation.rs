//! `astrolab hline rotation-curve`: the inner-Galaxy rotation curve by the
//! tangent-point method and a longitude-velocity diagram over many pointings.

use std::path::PathBuf;

use anyhow::Context;
use astrolab_hline::science::{
    lv_diagram, tangent_point, terminal_velocity_km_s, TangentPoint, VmaxMethod,
};
use serde::{Deserialize, Serialize};

use super::fit::{analyse_all, recurring_words};
use super::table::write_atomic;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::{RotationArgs, VmaxArg};
use crate::pipeline::SinglePipeline;

/// What a rotation-curve run gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationOutput {
    /// Spectra analysed.
    pub n_spectra: usize,
    /// Narrow-band RFI features flagged across them.
    pub n_rfi_flagged: usize,
    /// Tangent points: (file, l deg, b deg, v_max km/s, R kpc, V km/s), by R.
    pub tangent_points: Vec<(PathBuf, f64, f64, f64, f64, f64)>,
    /// Files written (tangent points, figures, l-v data).
    pub written: Vec<PathBuf>,
}

/// `astrolab hline rotation-curve`: one session over all the spectra
/// (recurring RFI is learned across them), so one shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct RotationCurve;

impl SinglePipeline for RotationCurve {
    type Params = RotationArgs;
    type Output = RotationOutput;
    fn run(&self, ctx: &Ctx, a: &RotationArgs) -> Result<RotationOutput, PipelineError> {
        Ok(run(ctx, a)?)
    }
}

fn run(ctx: &Ctx, a: &RotationArgs) -> anyhow::Result<RotationOutput> {
    let mut written = Vec::new();
    let mut points: Vec<(PathBuf, TangentPoint)> = Vec::new();
    let mut lv_input = Vec::new();
    let (mut vmin, mut vmax) = (f64::INFINITY, f64::NEG_INFINITY);
    // One session: narrow-band RFI flagged in each spectrum, recurring
    // frequencies learned across them (as `hline fit`).
    let (all, persistent) = analyse_all(ctx, &a.spectra, &a.analysis)?;
    if let Some(line) = recurring_words(&persistent) {
        ctx.info(line);
    }
    let n_flagged: usize = all.iter().map(|r| r.flags.flagged.len()).sum();
    if n_flagged > 0 {
        ctx.info(format!(
            "{n_flagged} narrow-band RFI features flagged and left out of the fits"
        ));
    }
    for r in &all {
        let p = &r.spectrum.path;
        let s = &r.spectrum;
        if !(s.l_deg.is_finite() && s.b_deg.is_finite()) {
            anyhow::bail!(
                "{}: no Galactic longitude/latitude: cannot place it",
                p.display()
            );
        }
        let method = match a.vmax {
            VmaxArg::Component => VmaxMethod::Component {
                min_amp_k: a.min_amp_k,
            },
            VmaxArg::Threshold => VmaxMethod::Threshold {
                threshold_k: a
                    .threshold_k
                    .unwrap_or(5.0 * astrolab_hline::gauss::noise_rms(&r.t_sub_k)),
            },
        };
        // Unresolved components (at the minimum width) are no HI line.
        let resolved = r.resolution.resolved(&r.fit.components);
        if let Some(v) = terminal_velocity_km_s(&s.v_lsr_km_s, &r.t_sub_k, &resolved, method) {
            if let Some(tp) =
                tangent_point(s.l_deg, s.b_deg, v, a.analysis.r0_kpc, a.analysis.v0_km_s)
            {
                points.push((p.clone(), tp));
            }
        }
        for v in &s.v_lsr_km_s {
            if v.is_finite() {
                vmin = vmin.min(*v);
                vmax = vmax.max(*v);
            }
        }
        lv_input.push((s.l_deg, s.v_lsr_km_s.clone(), r.t_sub_k.clone()));
    }
    points.sort_by(|x, y| x.1.r_kpc.total_cmp(&y.1.r_kpc));
    let mut csv = String::from("file,glon_deg,glat_deg,v_max_km_s,r_kpc,v_rot_km_s\n");
    for (p, t) in &points {
        csv += &format!(
            "{},{:.4},{:.4},{:.4},{:.6},{:.4}\n",
            p.display().to_string().replace(',', "_"),
            t.l_deg,
            t.b_deg,
            t.v_max_km_s,
            t.r_kpc,
            t.v_rot_km_s
        );
    }
    write_atomic(&a.output, csv.as_bytes())?;
    written.push(a.output.clone());
    ctx.info(format!(
        "{} spectra, {} tangent points (0 < l < 90) -> {}",
        a.spectra.len(),
        points.len(),
        a.output.display()
    ));
    if let Some(plot) = &a.plot {
        let pts: Vec<TangentPoint> = points.iter().map(|p| p.1).collect();
        let svg = super::plots::rotation_curve_svg(
            &pts,
            a.analysis.v0_km_s,
            &format!(
                "Rotation curve, tangent points (R0 = {} kpc, V0 = {} km/s)",
                a.analysis.r0_kpc, a.analysis.v0_km_s
            ),
        );
        crate::render::write_plot(&svg, plot)?;
        written.push(plot.clone());
    }
    if a.lv_output.is_some() || a.lv_plot.is_some() {
        let step = a.lv_step_km_s.abs().max(1e-3);
        let n = if vmax > vmin {
            ((vmax - vmin) / step) as usize + 1
        } else {
            0
        };
        let grid: Vec<f64> = (0..n).map(|i| vmin + i as f64 * step).collect();
        let d = lv_diagram(&lv_input, &grid);
        if let Some(out) = &a.lv_output {
            let mut s = String::from("glon_deg,v_lsr_km_s,t_k\n");
            for (iv, v) in d.v_km_s.iter().enumerate() {
                for (il, l) in d.l_deg.iter().enumerate() {
                    let t = d.t_k[iv * d.l_deg.len() + il];
                    if t.is_finite() {
                        s += &format!("{l:.4},{v:.3},{t:.5}\n");
                    }
                }
            }
            write_atomic(out, s.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            written.push(out.clone());
        }
        if let Some(plot) = &a.lv_plot {
            let svg = super::plots::lv_svg(&d, "Longitude-velocity diagram");
            crate::render::write_plot(&svg, plot)?;
            written.push(plot.clone());
        }
    }
    Ok(RotationOutput {
        n_spectra: a.spectra.len(),
        n_rfi_flagged: n_flagged,
        tangent_points: points
            .iter()
            .map(|(p, t)| {
                (
                    p.clone(),
                    t.l_deg,
                    t.b_deg,
                    t.v_max_km_s,
                    t.r_kpc,
                    t.v_rot_km_s,
                )
            })
            .collect(),
        written,
    })
}
