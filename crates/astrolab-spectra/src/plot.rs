//! Spectrum plots as SVG, written by hand: flux with its 1-sigma band,
//! masked pixels marked along the bottom, common emission lines labelled.
//! One implementation for `astrolab spectra get --plot` and the server's
//! `/api/v1/spectra/{targetid}/plot.svg`; the XML escape here is the one
//! every figure of the project uses, and [`nice_ticks`] gives every axis
//! of the project its ticks.

use std::fmt::Write;

mod line;
mod ticks;
pub use line::{line_plot, stack, Series};
pub use ticks::{nice_ticks, Ticks};

/// Common UV/optical lines, vacuum rest wavelengths in Angstrom
/// (SDSS line list, https://classic.sdss.org/dr6/algorithms/linestable.php).
pub const LINES: &[(&str, f64)] = &[
    ("Lyα", 1215.67),
    ("SiIV", 1397.61),
    ("CIV", 1549.06),
    ("CIII]", 1908.73),
    ("MgII", 2798.75),
    ("[OII]", 3728.48),
    ("Hδ", 4102.89),
    ("Hγ", 4341.68),
    ("Hβ", 4862.68),
    ("[OIII]", 5008.24),
    ("Hα", 6564.61),
    ("[NII]", 6585.27),
    ("[SII]", 6718.29),
];

/// What to draw.
pub struct SpectrumPlot<'a> {
    /// Title above the plot.
    pub title: String,
    /// Observed wavelength, Angstrom.
    pub wavelength: &'a [f64],
    /// Flux, 1e-17 erg/s/cm2/A.
    pub flux: &'a [f32],
    /// Inverse variance of the flux.
    pub ivar: &'a [f32],
    /// Mask bits (non-zero: bad).
    pub mask: &'a [u32],
    /// Redshift, for the rest-frame axis and the line markers.
    pub z: Option<f64>,
    /// Plot against rest-frame wavelength.
    pub rest_frame: bool,
}

/// Escapes text for SVG/XML content and attribute values (every figure of
/// the binary uses this one).
pub fn escape(s: &str) -> String {
    // Quotes too: titles go into attributes (`aria-label="..."`).
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Perceptually ordered colour map (the anchors of matplotlib's viridis),
/// for x in 0..1 (NaN and out-of-range values clamp). Shared by the CLI's
/// and the web pages' waterfalls.
pub fn viridis(x: f64) -> (u8, u8, u8) {
    const A: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let t = x * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (A[i], A[i + 1]);
    (
        (a.0 + f * (b.0 - a.0)) as u8,
        (a.1 + f * (b.1 - a.1)) as u8,
        (a.2 + f * (b.2 - a.2)) as u8,
    )
}

/// Renders the plot as an SVG document.
pub fn spectrum_svg(p: &SpectrumPlot<'_>) -> String {
    let (w, h) = (1000.0, 450.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 50.0);
    let scale = match (p.rest_frame, p.z) {
        (true, Some(z)) => 1.0 / (1.0 + z),
        _ => 1.0,
    };
    let x: Vec<f64> = p.wavelength.iter().map(|l| l * scale).collect();
    let good: Vec<bool> = (0..x.len())
        .map(|i| p.mask[i] == 0 && p.ivar[i] > 0.0 && p.flux[i].is_finite())
        .collect();
    let (xmin, xmax) = (
        x.first().copied().unwrap_or(0.0),
        x.last().copied().unwrap_or(1.0),
    );
    // Robust y range: 1st to 99th percentile of good flux, padded.
    let mut ys: Vec<f64> = (0..x.len())
        .filter(|&i| good[i])
        .map(|i| p.flux[i] as f64)
        .collect();
    ys.sort_by(f64::total_cmp);
    let q = |f: f64| {
        ys.get(((ys.len().max(1) - 1) as f64 * f) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (q(0.01), q(0.99));
    let pad = ((hi - lo) * 0.15).max(1e-3);
    let (ymin, ymax) = (lo - pad, hi + pad);
    let px = |v: f64| left + (v - xmin) / (xmax - xmin).max(1e-9) * (w - left - right);
    let py = |v: f64| top + (ymax - v.clamp(ymin, ymax)) / (ymax - ymin) * (h - top - bottom);

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" font-size="14">{}</text>"#,
        left,
        escape(&p.title)
    );
    // 1-sigma band over runs of good pixels.
    let mut run: Vec<usize> = Vec::new();
    let flush = |run: &mut Vec<usize>, s: &mut String| {
        if run.len() > 1 {
            let mut d = String::new();
            for (k, &i) in run.iter().enumerate() {
                let sig = 1.0 / (p.ivar[i] as f64).sqrt();
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if k == 0 { "M" } else { "L" },
                    px(x[i]),
                    py(p.flux[i] as f64 + sig)
                );
            }
            for &i in run.iter().rev() {
                let sig = 1.0 / (p.ivar[i] as f64).sqrt();
                let _ = write!(d, "L{:.1},{:.1} ", px(x[i]), py(p.flux[i] as f64 - sig));
            }
            let _ = write!(s, r##"<path d="{d}Z" fill="#9ecae1" stroke="none"/>"##);
        }
        run.clear();
    };
    for (i, &ok) in good.iter().enumerate() {
        if ok {
            run.push(i);
        } else {
            flush(&mut run, &mut s);
        }
    }
    flush(&mut run, &mut s);
    // Flux line (gaps at bad pixels).
    let mut d = String::new();
    let mut pen_down = false;
    for i in 0..x.len() {
        if good[i] {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if pen_down { "L" } else { "M" },
                px(x[i]),
                py(p.flux[i] as f64)
            );
            pen_down = true;
        } else {
            pen_down = false;
        }
    }
    let _ = write!(
        s,
        r##"<path d="{d}" fill="none" stroke="#08519c" stroke-width="0.8"/>"##
    );
    // Masked pixels along the bottom.
    for i in (0..x.len()).filter(|&i| !good[i]) {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#e6550d" stroke-width="1"/>"##,
            px(x[i]),
            h - bottom - 6.0,
            h - bottom
        );
    }
    // Emission lines.
    if let Some(z) = p.z {
        for (name, rest) in LINES {
            let at = if p.rest_frame {
                *rest
            } else {
                rest * (1.0 + z)
            };
            if at > xmin && at < xmax {
                let _ = write!(
                    s,
                    r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="#636363" stroke-dasharray="3,3"/><text x="{3:.1}" y="{4}" fill="#636363">{5}</text>"##,
                    px(at),
                    top,
                    h - bottom,
                    px(at) + 2.0,
                    top + 12.0,
                    escape(name)
                );
            }
        }
    }
    // Axes, ticks and labels.
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="black"/>"##,
        w - left - right,
        h - top - bottom
    );
    let xt = nice_ticks(xmin, xmax, 8);
    for (t, label) in xt.labelled() {
        let _ = write!(
            s,
            r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="black"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"#,
            px(t),
            h - bottom,
            h - bottom + 5.0,
            h - bottom + 18.0,
            label
        );
    }
    let yt = nice_ticks(ymin, ymax, 6);
    for (t, label) in yt.labelled() {
        let _ = write!(
            s,
            r#"<line x1="{0}" x2="{1}" y1="{2:.1}" y2="{2:.1}" stroke="black"/><text x="{3}" y="{4:.1}" text-anchor="end">{5}</text>"#,
            left - 5.0,
            left,
            py(t),
            left - 8.0,
            py(t) + 4.0,
            label
        );
    }
    let xlabel = if p.rest_frame && p.z.is_some() {
        "rest-frame wavelength [Å]"
    } else {
        "observed wavelength [Å]"
    };
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{xlabel}</text><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">flux [1e-17 erg/s/cm²/Å]</text></svg>"#,
        (left + w - right) / 2.0,
        h - 12.0,
        (top + h - bottom) / 2.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_lines_masks_and_band() {
        let wl: Vec<f64> = (0..1000).map(|i| 3600.0 + 0.8 * i as f64).collect();
        let flux: Vec<f32> = (0..1000).map(|i| 1.0 + (i as f32 / 100.0).sin()).collect();
        let mut ivar = vec![4.0f32; 1000];
        let mut mask = vec![0u32; 1000];
        ivar[500] = 0.0;
        mask[600] = 1;
        let svg = spectrum_svg(&SpectrumPlot {
            title: "TARGETID 1 <test>".into(),
            wavelength: &wl,
            flux: &flux,
            ivar: &ivar,
            mask: &mask,
            z: Some(0.0),
            rest_frame: false,
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;test&gt;"));
        // [OII] 3728 and Hδ 4102 fall in 3600-4400 A; Hβ does not.
        assert!(svg.contains("[OII]") && svg.contains("Hδ") && !svg.contains("Hβ"));
        // Two bad pixels marked.
        assert_eq!(svg.matches("#e6550d").count(), 2);
        // The band is split at the bad pixels: three runs.
        assert_eq!(svg.matches("#9ecae1").count(), 3);
        // Wavelength ticks every 100 A from 3600 to 4400 (nice_ticks).
        for l in ["3600", "3700", "4000", "4300"] {
            assert!(
                svg.contains(&format!(r#"text-anchor="middle">{l}</text>"#)),
                "{l}"
            );
        }
    }
}
