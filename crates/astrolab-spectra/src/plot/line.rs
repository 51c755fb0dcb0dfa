//! Line plots (SVG, by hand): axes with nice ticks, a legend, series as
//! lines (broken at non-finite points) or markers. The server's science
//! pages and the pipelines' figures (`anomalies score-files --figures`)
//! draw with this one function.

use std::fmt::Write;

use super::{escape, nice_ticks};

/// A series of a line plot.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Stroke colour.
    pub colour: &'a str,
    /// Points (non-finite ones break the line).
    pub points: Vec<(f64, f64)>,
    /// Draw markers instead of a line.
    pub markers: bool,
}

/// A line plot with axes, ticks and a legend.
pub fn line_plot(title: &str, xlabel: &str, ylabel: &str, series: &[Series<'_>]) -> String {
    let (w, h) = PLOT_SIZE;
    let (l, r, t, b) = (64.0, 16.0, 28.0, 44.0);
    let all = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let py = |y: f64| t + (y1 - y) / (y1 - y0) * (h - t - b);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{}" class="plot" font-family="sans-serif" font-size="12"><rect width="{w}" height="{h}" fill="#ffffff"/><text x="{l}" y="18" font-size="13" fill="#1a1a1a">{}</text>"##,
        escape(title),
        escape(title)
    );
    for (xv, label) in nice_ticks(x0, x1, 4).labelled() {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#e3e3e3"/><text x="{0:.1}" y="{3}" text-anchor="middle" fill="#333">{label}</text>"##,
            px(xv),
            t,
            h - b,
            h - b + 16.0,
        );
    }
    for (yv, label) in nice_ticks(y0, y1, 4).labelled() {
        let _ = write!(
            s,
            r##"<line x1="{l}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#e3e3e3"/><text x="{2}" y="{3:.1}" text-anchor="end" fill="#333">{label}</text>"##,
            py(yv),
            w - r,
            l - 6.0,
            py(yv) + 4.0,
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#555"/><text x="{}" y="{}" text-anchor="middle" fill="#1a1a1a">{}</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="#1a1a1a">{}</text>"##,
        w - l - r,
        h - t - b,
        (l + w - r) / 2.0,
        h - 6.0,
        escape(xlabel),
        (t + h - b) / 2.0,
        escape(ylabel),
    );
    for (k, se) in series.iter().enumerate() {
        if se.markers {
            for &(x, y) in se
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
            {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                    px(x),
                    py(y),
                    se.colour
                );
            }
        } else {
            let mut d = String::new();
            let mut pen = false;
            for &(x, y) in &se.points {
                if x.is_finite() && y.is_finite() {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1} ",
                        if pen { "L" } else { "M" },
                        px(x),
                        py(y)
                    );
                    pen = true;
                } else {
                    pen = false;
                }
            }
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.2"/>"#,
                se.colour
            );
        }
        let ly = t + 14.0 + 16.0 * k as f64;
        let _ = write!(
            s,
            r##"<rect x="{}" y="{}" width="12" height="4" fill="{}"/><text x="{}" y="{}" fill="#1a1a1a">{}</text>"##,
            w - r - 170.0,
            ly - 4.0,
            se.colour,
            w - r - 152.0,
            ly,
            escape(se.label)
        );
    }
    s += "</svg>";
    s
}

/// Size of a [`line_plot`] in SVG user units (its `viewBox`).
const PLOT_SIZE: (f64, f64) = (720.0, 320.0);

/// [`line_plot`]s one above the other in one standalone SVG document (a
/// figure file), each keeping its own axes.
pub fn stack(plots: &[String]) -> String {
    let (w, h) = PLOT_SIZE;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {}" width="{w}" height="{}">"#,
        h * plots.len() as f64,
        h * plots.len() as f64
    );
    for (k, p) in plots.iter().enumerate() {
        // A nested <svg> is placed by x/y/width/height; its own viewBox
        // keeps its coordinates.
        match p.strip_prefix("<svg ") {
            Some(rest) => {
                let _ = write!(
                    s,
                    r#"<svg x="0" y="{}" width="{w}" height="{h}" {rest}"#,
                    h * k as f64
                );
            }
            None => s.push_str(p),
        }
    }
    s += "</svg>";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_plots_sit_one_below_the_other() {
        let one = |t: &str| {
            line_plot(
                t,
                "x",
                "y",
                &[Series {
                    label: "a \"b\"",
                    colour: "#000",
                    points: vec![(0.0, 1.0), (f64::NAN, 2.0), (2.0, 3.0)],
                    markers: false,
                }],
            )
        };
        let s = stack(&[one("top"), one("bottom")]);
        assert!(s.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 640""#));
        assert!(s.contains(r#"<svg x="0" y="0" width="720" height="320" xmlns="#));
        assert!(s.contains(r#"<svg x="0" y="320" width="720" height="320" xmlns="#));
        assert_eq!(s.matches("<svg").count(), 3);
        assert_eq!(s.matches("</svg>").count(), 3);
        // The NaN breaks the line: two moves, no line segment.
        assert_eq!(s.matches(r#"<path d="M"#).count(), 2);
        assert!(s.contains("a &quot;b&quot;"));
    }
}
