//! Waterfall figure of a recording's integrated spectra: time down,
//! frequency across, each spectrum divided by the recording's median
//! spectrum (so the bandpass drops out and the line and RFI stand out),
//! RFI-flagged cells in red. Binned to at most 400 x 200 cells so the
//! SVG stays small whatever the recording length.

use std::path::PathBuf;

use astrolab_formats::sigmf::{read_spectra_archive, SpectraArchive};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::WaterfallArgs;
use crate::pipeline::SinglePipeline;

use astrolab_spectra::plot::viridis as colour;

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The waterfall as SVG.
pub fn waterfall_svg(a: &SpectraArchive, title: &str) -> String {
    let nch = a.header.n_channels;
    let nint = a.n_integrations();
    // Reference: per-channel median over unflagged integrations.
    let reference: Vec<f64> = (0..nch)
        .map(|c| {
            median(
                (0..nint)
                    .filter(|&k| a.flags[k * nch + c] == 0)
                    .map(|k| a.spectra[k * nch + c] as f64)
                    .collect(),
            )
        })
        .collect();
    let bx = nch.div_ceil(400).max(1);
    let by = nint.div_ceil(200).max(1);
    let (nx, ny) = (nch.div_ceil(bx), nint.max(1).div_ceil(by));
    let mut cells = vec![f64::NAN; nx * ny];
    let mut flagged = vec![false; nx * ny];
    for y in 0..ny {
        for x in 0..nx {
            let (mut s, mut w, mut nf, mut nt) = (0.0, 0.0, 0, 0);
            for k in y * by..((y + 1) * by).min(nint) {
                let c0 = x * bx;
                let c1 = ((x + 1) * bx).min(nch);
                let row = k * nch;
                for ((&f, &p), &r) in a.flags[row + c0..row + c1]
                    .iter()
                    .zip(&a.spectra[row + c0..row + c1])
                    .zip(&reference[c0..c1])
                {
                    nt += 1;
                    if f != 0 {
                        nf += 1;
                    } else if r > 0.0 {
                        s += p as f64 / r;
                        w += 1.0;
                    }
                }
            }
            flagged[y * nx + x] = nf * 2 > nt;
            if w > 0.0 {
                cells[y * nx + x] = s / w - 1.0;
            }
        }
    }
    // Colour scale: robust range of the unflagged cells.
    let mut vals: Vec<f64> = cells.iter().copied().filter(|v| v.is_finite()).collect();
    vals.sort_unstable_by(|a, b| a.total_cmp(b));
    let q = |f: f64| {
        vals.get(((vals.len() as f64 - 1.0) * f) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (q(0.01), q(0.99).max(q(0.01) + 1e-9));
    let (left, top, w, h) = (70.0, 40.0, 640.0, 400.0);
    let cw = w / nx as f64;
    let chh = h / ny as f64;
    let mut s = String::new();
    s.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        left + w + 20.0,
        top + h + 60.0
    ));
    s.push_str(&format!(
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{} waterfall (power / median spectrum - 1; red: RFI flagged)</text>\n",
        left + w / 2.0,
        xml_escape(title)
    ));
    for y in 0..ny {
        for x in 0..nx {
            let i = y * nx + x;
            let fill = if flagged[i] {
                "#d62728".to_string()
            } else {
                let (r, g, b) = colour((cells[i] - lo) / (hi - lo));
                format!("#{r:02x}{g:02x}{b:02x}")
            };
            s.push_str(&format!(
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{fill}\"/>\n",
                left + x as f64 * cw,
                top + y as f64 * chh,
                cw + 0.05,
                chh + 0.05
            ));
        }
    }
    let f0 = a.freq_hz(0) / 1e6;
    let f1 = a.freq_hz(nch.saturating_sub(1)) / 1e6;
    for (f, label) in nice_ticks(f0, f1, 4).labelled() {
        let x = if f1 > f0 {
            left + w * (f - f0) / (f1 - f0)
        } else {
            left + w / 2.0
        };
        s.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
            top + h + 16.0,
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">frequency (MHz)</text>\n",
        left + w / 2.0,
        top + h + 36.0
    ));
    let dur = nint as f64 * a.header.integration_s;
    for (t, label) in nice_ticks(0.0, dur, 4).labelled() {
        let y = if dur > 0.0 { top + h * t / dur } else { top };
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\n",
            left - 6.0,
            y + 4.0,
        ));
    }
    s.push_str(&format!(
        "<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">time (s)</text>\n",
        top + h / 2.0,
        top + h / 2.0
    ));
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">colour: {:.3} to {:.3}</text>\n</svg>\n",
        left + w,
        top + h + 54.0,
        lo,
        hi
    ));
    s
}

/// What a waterfall run gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaterfallOutput {
    /// Integrations drawn.
    pub n_integrations: usize,
    /// The figure written.
    pub output: PathBuf,
}

/// The waterfall figure of a spectra archive (what `hline process
/// --waterfall` draws for each recording).
#[derive(Debug, Default, Clone, Copy)]
pub struct Waterfall;

impl SinglePipeline for Waterfall {
    type Params = WaterfallArgs;
    type Output = WaterfallOutput;
    fn run(&self, ctx: &Ctx, a: &WaterfallArgs) -> Result<WaterfallOutput, PipelineError> {
        let archive = read_spectra_archive(&a.archive).map_err(anyhow::Error::from)?;
        let title = a
            .title
            .clone()
            .unwrap_or_else(|| archive.header.source_name.clone());
        let svg = waterfall_svg(&archive, &title);
        crate::render::write_plot(&svg, &a.output)?;
        ctx.info(format!("waterfall: {}", a.output.display()));
        Ok(WaterfallOutput {
            n_integrations: archive.n_integrations(),
            output: a.output.clone(),
        })
    }
}

use crate::render::{escape as xml_escape, nice_ticks};

#[cfg(test)]
mod tests {
    use super::*;
    use astrolab_formats::sigmf::{ArchiveHeader, SpectraArchive};

    #[test]
    fn flagged_cells_are_red_and_the_size_is_bounded() {
        let (nch, nint) = (1000, 500);
        let mut spectra = vec![1.0f32; nch * nint];
        let mut flags = vec![0u8; nch * nint];
        for k in 0..nint {
            spectra[k * nch + 10] = 2.0;
            flags[k * nch + 500] = 1;
            flags[k * nch + 501] = 1;
            flags[k * nch + 502] = 1;
        }
        let a = SpectraArchive {
            header: ArchiveHeader {
                n_channels: nch,
                first_channel_freq_hz: 1.42e9,
                channel_width_hz: 1e3,
                center_freq_hz: 1.4205e9,
                integration_s: 1.0,
                spectrometer: serde_json::Value::Null,
                source_name: "x".into(),
                source_sha256: String::new(),
                geolocation: None,
                pointing: None,
            },
            starts_unix_s: (0..nint).map(|k| k as f64).collect(),
            n_frames: vec![1; nint],
            v_lsr_corrections_km_s: vec![None; nint],
            spectra,
            flags,
        };
        let svg = waterfall_svg(&a, "x<y");
        assert!(svg.contains("#d62728"));
        assert!(svg.contains("x&lt;y"));
        assert!(svg.matches("<rect").count() <= 400 * 200 + 1);
    }
}
