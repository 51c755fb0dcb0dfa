//! Small figures drawn into the pages: the sky plot of a cone search,
//! line plots, and the hydrogen-line waterfall (a BMP image in a data URI:
//! one pixel per cell instead of thousands of SVG elements).
//!
//! SVG presentation attributes (`fill`, `stroke`) are not styles, so the
//! content policy (`style-src 'self'`) lets them through.

use std::fmt::Write;

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

pub use astrolab_spectra::plot::{line_plot, Series};

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
