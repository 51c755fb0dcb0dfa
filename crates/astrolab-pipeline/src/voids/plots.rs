//! Figures of `astrolab voids compare`: empirical CDFs and histograms of a
//! property for several galaxy populations, as hand-written SVG (PNG via
//! `crate::render::write_plot`).

use std::fmt::Write;

/// Line colours (colour-blind safe, Okabe & Ito 2008).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

const W: f64 = 640.0;
const H: f64 = 420.0;
const L: f64 = 70.0;
const R: f64 = 20.0;
const T: f64 = 40.0;
const B: f64 = 55.0;

use astrolab_spectra::plot::{escape as esc, nice_ticks};

fn range(series: &[(String, Vec<f64>)]) -> Option<(f64, f64)> {
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    if hi > lo {
        Some((lo, hi))
    } else {
        Some((lo - 0.5, hi + 0.5))
    }
}

fn frame(svg: &mut String, title: &str, xlabel: &str, ylabel: &str, x: (f64, f64), ymax: f64) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    let (pw, ph) = (W - L - R, H - T - B);
    let _ = write!(
        svg,
        r#"<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    for (xv, label) in nice_ticks(x.0, x.1, 4).labelled() {
        let px = L + (xv - x.0) / (x.1 - x.0) * pw;
        let _ = write!(
            svg,
            r#"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="black"/><text x="{px:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            T + ph,
            T + ph + 5.0,
            T + ph + 18.0,
        );
    }
    for (yv, label) in nice_ticks(0.0, ymax, 4).labelled() {
        let py = T + ph - yv / ymax * ph;
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{py:.1}" x2="{L}" y2="{py:.1}" stroke="black"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
            L - 5.0,
            L - 8.0,
            py + 4.0,
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        L + pw / 2.0,
        H - 12.0,
        esc(xlabel),
        T + ph / 2.0,
        T + ph / 2.0,
        esc(ylabel)
    );
}

fn legend(svg: &mut String, series: &[(String, Vec<f64>)]) {
    for (i, (name, v)) in series.iter().enumerate() {
        let y = T + 16.0 + 16.0 * i as f64;
        let c = COLOURS[i % COLOURS.len()];
        let n = v.iter().filter(|x| x.is_finite()).count();
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{c}" stroke-width="2"/><text x="{}" y="{}">{} (N = {n})</text>"#,
            L + 10.0,
            L + 30.0,
            L + 36.0,
            y + 4.0,
            esc(name)
        );
    }
}

/// Empirical CDFs of each series (step functions).
pub fn cdf_svg(title: &str, xlabel: &str, series: &[(String, Vec<f64>)]) -> Option<String> {
    let x = range(series)?;
    let mut svg = String::new();
    frame(&mut svg, title, xlabel, "cumulative fraction", x, 1.0);
    let (pw, ph) = (W - L - R, H - T - B);
    for (i, (_, v)) in series.iter().enumerate() {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if s.is_empty() {
            continue;
        }
        s.sort_by(f64::total_cmp);
        let n = s.len() as f64;
        // At most ~2000 steps: thin large samples by quantile.
        let step = (s.len() / 2000).max(1);
        let mut d = format!("M{L:.1},{:.1}", T + ph);
        let mut k = 0;
        while k < s.len() {
            let px = L + (s[k] - x.0) / (x.1 - x.0) * pw;
            let before = T + ph - (k as f64 / n) * ph;
            let after = T + ph - ((k + 1) as f64 / n) * ph;
            let _ = write!(d, " L{px:.1},{before:.1} L{px:.1},{after:.1}");
            k += step;
        }
        let _ = write!(d, " L{:.1},{T:.1}", L + pw);
        let _ = write!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            COLOURS[i % COLOURS.len()]
        );
    }
    legend(&mut svg, series);
    svg.push_str("</svg>");
    Some(svg)
}

/// Normalised histograms (probability density) with `bins` bins.
pub fn hist_svg(
    title: &str,
    xlabel: &str,
    series: &[(String, Vec<f64>)],
    bins: usize,
) -> Option<String> {
    let x = range(series)?;
    let width = (x.1 - x.0) / bins as f64;
    let dens: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, v)| {
            let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let mut h = vec![0.0; bins];
            for &val in &f {
                let b = (((val - x.0) / width) as usize).min(bins - 1);
                h[b] += 1.0;
            }
            let norm = (f.len().max(1) as f64) * width;
            h.iter().map(|c| c / norm).collect()
        })
        .collect();
    let ymax = dens
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-300)
        * 1.1;
    let mut svg = String::new();
    frame(&mut svg, title, xlabel, "probability density", x, ymax);
    let (pw, ph) = (W - L - R, H - T - B);
    for (i, h) in dens.iter().enumerate() {
        let mut d = format!("M{L:.1},{:.1}", T + ph);
        for (b, v) in h.iter().enumerate() {
            let x0 = L + b as f64 / bins as f64 * pw;
            let x1 = L + (b + 1) as f64 / bins as f64 * pw;
            let y = T + ph - v / ymax * ph;
            let _ = write!(d, " L{x0:.1},{y:.1} L{x1:.1},{y:.1}");
        }
        let _ = write!(d, " L{:.1},{:.1}", L + pw, T + ph);
        let _ = write!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            COLOURS[i % COLOURS.len()]
        );
    }
    legend(&mut svg, series);
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels of the axis ticks, in drawing order.
    fn tick_labels(svg: &str, anchor: &str) -> Vec<String> {
        svg.split(&format!("text-anchor=\"{anchor}\">"))
            .skip(1)
            .map(|s| s.split('<').next().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn ticks_fall_on_nice_numbers() {
        // Issue 14: this range was labelled 9.28, 9.47, 9.67, 9.86, 10.05.
        let series = vec![("void".to_string(), vec![9.28, 9.5, 9.9, 10.05])];
        let svg = cdf_svg("t", "x", &series).unwrap();
        // The x ticks, then the axis label.
        assert_eq!(tick_labels(&svg, "middle"), ["9.50", "9.75", "10.00", "x"]);
        assert_eq!(
            tick_labels(&svg, "end"),
            ["0.00", "0.25", "0.50", "0.75", "1.00"]
        );
    }
}
