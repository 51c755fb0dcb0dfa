//! Small figures drawn into the pages: the sky plot of a cone search,
//! line plots, and the hydrogen-line waterfall (a BMP image in a data URI:
//! one pixel per cell instead of thousands of SVG elements).
//!
//! SVG presentation attributes (`fill`, `stroke`) are not styles, so the
//! content policy (`style-src 'self'`) lets them through.

use std::fmt::Write;

use astrolab_spectra::plot::nice_ticks;
use base64::Engine;

use super::{escape, fmt_f64};

/// The hits of a cone search around (ra0, dec0): a tangent-plane view with
/// east to the left, as on the sky, and the cone's circle.
pub fn sky_plot(ra0: f64, dec0: f64, radius: f64, points: &[(f64, f64, String)]) -> String {
    let size = 320.0;
    let c = size / 2.0;
    let scale = (size / 2.0 - 16.0) / radius.max(1e-9);
    let cosd = dec0.to_radians().cos().max(1e-6);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" aria-labelledby="sky-title" class="sky"><title id="sky-title">{} objects within {} deg of RA {}, Dec {}</title><rect width="{size}" height="{size}" fill="#0b1d33"/><circle cx="{c}" cy="{c}" r="{:.1}" fill="none" stroke="#8fb3d9" stroke-dasharray="4 3"/><line x1="{c}" y1="8" x2="{c}" y2="{}" stroke="#35557a"/><line x1="8" y1="{c}" x2="{}" y2="{c}" stroke="#35557a"/><text x="12" y="{}" fill="#d5e3f2" font-size="12" font-family="sans-serif">E</text><text x="{}" y="20" fill="#d5e3f2" font-size="12" font-family="sans-serif">N</text>"##,
        points.len(),
        fmt_f64(radius),
        fmt_f64(ra0),
        fmt_f64(dec0),
        radius * scale,
        size - 8.0,
        size - 8.0,
        c - 4.0,
        c + 4.0,
    );
    for (ra, dec, label) in points {
        let mut dra = ra - ra0;
        if dra > 180.0 {
            dra -= 360.0;
        } else if dra < -180.0 {
            dra += 360.0;
        }
        let x = c - dra * cosd * scale;
        let y = c - (dec - dec0) * scale;
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="#ffd166"><title>{}</title></circle>"##,
            escape(label)
        );
    }
    s += "</svg>";
    s
}

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
    let (w, h) = (720.0, 320.0);
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

pub use astrolab_spectra::plot::viridis;

/// An RGB image (rows top to bottom) as a 24-bit BMP `data:` URI.
pub fn bmp_data_uri(width: usize, height: usize, rgb: &[(u8, u8, u8)]) -> String {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut b = Vec::with_capacity(size);
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(size as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(width as i32).to_le_bytes());
    // Negative height: rows are stored top-down.
    b.extend_from_slice(&(-(height as i32)).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0u8; 24]);
    for y in 0..height {
        for x in 0..width {
            let (r, g, bl) = rgb[y * width + x];
            b.extend_from_slice(&[bl, g, r]);
        }
        b.resize(b.len() + row - width * 3, 0);
    }
    format!(
        "data:image/bmp;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&b)
    )
}

/// Waterfall of integrated spectra (time down, channels across): each
/// spectrum divided by the per-channel median of unflagged spectra, so
/// the bandpass drops out and the line stands out; flagged cells red.
/// Binned to at most 256 x 128 cells. Returns (data URI, width, height).
pub fn waterfall(spectra: &[(Vec<f32>, Vec<u8>)]) -> Option<(String, usize, usize)> {
    let nint = spectra.len();
    let nch = spectra.first()?.0.len();
    if nch == 0 || spectra.iter().any(|s| s.0.len() != nch) {
        return None;
    }
    let flagged = |k: usize, c: usize| spectra[k].1.get(c).is_some_and(|f| *f != 0);
    let reference: Vec<f64> = (0..nch)
        .map(|c| {
            let mut v: Vec<f64> = (0..nint)
                .filter(|&k| !flagged(k, c))
                .map(|k| spectra[k].0[c] as f64)
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                return f64::NAN;
            }
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    let bx = nch.div_ceil(256).max(1);
    let by = nint.div_ceil(128).max(1);
    let (nx, ny) = (nch.div_ceil(bx), nint.div_ceil(by));
    let mut val = vec![f64::NAN; nx * ny];
    let mut bad = vec![false; nx * ny];
    for y in 0..ny {
        for x in 0..nx {
            let (mut s, mut n, mut nf, mut nt) = (0.0, 0.0, 0, 0);
            for (power, flags) in spectra.iter().take(((y + 1) * by).min(nint)).skip(y * by) {
                for (c, &r) in reference
                    .iter()
                    .enumerate()
                    .take(((x + 1) * bx).min(nch))
                    .skip(x * bx)
                {
                    nt += 1;
                    if flags.get(c).is_some_and(|f| *f != 0) {
                        nf += 1;
                    } else if r > 0.0 && power[c].is_finite() {
                        s += power[c] as f64 / r;
                        n += 1.0;
                    }
                }
            }
            val[y * nx + x] = if n > 0.0 { s / n } else { f64::NAN };
            bad[y * nx + x] = nt > 0 && nf * 2 > nt;
        }
    }
    let mut sorted: Vec<f64> = val.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| {
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * f) as usize)
            .copied()
            .unwrap_or(1.0)
    };
    let (lo, hi) = (q(0.02), q(0.995));
    let span = (hi - lo).max(1e-12);
    let rgb: Vec<(u8, u8, u8)> = val
        .iter()
        .zip(&bad)
        .map(|(v, b)| {
            if *b {
                (220, 40, 40)
            } else {
                viridis((v - lo) / span)
            }
        })
        .collect();
    Some((bmp_data_uri(nx, ny, &rgb), nx, ny))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_plot_ticks_fall_on_nice_numbers() {
        // Issue 14: these axes were labelled at quarters of the data range
        // (9.28, 9.47, ...).
        let svg = line_plot(
            "t",
            "x",
            "y",
            &[Series {
                label: "s",
                colour: "#000",
                points: vec![(9.28, 0.0), (10.05, 100.0)],
                markers: false,
            }],
        );
        let labels = |anchor: &str| -> Vec<String> {
            svg.split(&format!("text-anchor=\"{anchor}\" fill=\"#333\">"))
                .skip(1)
                .map(|s| s.split('<').next().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(labels("middle"), ["9.50", "9.75", "10.00"]);
        // y: 0 to 100 padded by 8 % each side, a span of 116 (Heckbert:
        // rounded up to 200, / 4 intervals: steps of 50).
        assert_eq!(labels("end"), ["0", "50", "100"]);
    }

    #[test]
    fn bmp_header_and_size() {
        let uri = bmp_data_uri(3, 2, &[(255, 0, 0); 6]);
        let b = base64::engine::general_purpose::STANDARD
            .decode(uri.trim_start_matches("data:image/bmp;base64,"))
            .unwrap();
        assert_eq!(&b[..2], b"BM");
        // 3 pixels * 3 bytes padded to 12 per row, 2 rows, 54 header bytes.
        assert_eq!(b.len(), 54 + 12 * 2);
        assert_eq!(&b[54..57], &[0, 0, 255]);
    }

    #[test]
    fn waterfall_shows_the_line_bright() {
        // 20 spectra of 64 channels; a line in channels 30..34 in the last 5
        // (so the per-channel median, the reference, is the continuum).
        let spectra: Vec<(Vec<f32>, Vec<u8>)> = (0..20)
            .map(|k| {
                let s = (0..64)
                    .map(|c| {
                        if k >= 15 && (30..34).contains(&c) {
                            3.0
                        } else {
                            1.0
                        }
                    })
                    .collect();
                (s, vec![0u8; 64])
            })
            .collect();
        let (uri, w, h) = waterfall(&spectra).unwrap();
        assert_eq!((w, h), (64, 20));
        let b = base64::engine::general_purpose::STANDARD
            .decode(uri.trim_start_matches("data:image/bmp;base64,"))
            .unwrap();
        let px = |x: usize, y: usize| {
            let o = 54 + y * 64 * 3 + x * 3;
            (b[o + 2], b[o + 1], b[o])
        };
        // The line is at the top of the colour map (yellow), the rest dark.
        assert_eq!(px(31, 17), viridis(1.0));
        assert_eq!(px(5, 17), viridis(0.0));
        assert_eq!(px(31, 3), viridis(0.0));
    }

    #[test]
    fn sky_plot_escapes_labels() {
        let s = sky_plot(10.0, 0.0, 1.0, &[(10.1, 0.1, "<b>".into())]);
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
    }
}
