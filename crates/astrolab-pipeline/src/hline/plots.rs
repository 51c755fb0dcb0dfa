//! Hydrogen-line figures as hand-written SVG (PNG through `crate::render::write_plot`):
//! a spectrum with its Gaussian components, the rotation curve, and the
//! longitude-velocity diagram.

use std::fmt::Write;

use astrolab_hline::science::{LvDiagram, TangentPoint};

use super::fit::Analysis;

const W: f64 = 1000.0;
const H: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;

use crate::render::{escape as esc, nice_ticks};

/// Axis limits of finite values, padded; (0, 1) when there are none.
fn limits<'a>(vals: impl Iterator<Item = &'a f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - pad * span, hi + pad * span)
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - TOP - BOTTOM)
    }
    /// Header, frame, ticks and labels.
    fn open(&self, title: &str, xlabel: &str, ylabel: &str) -> String {
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
             font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
            W / 2.0,
            esc(title)
        );
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>",
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        for (axis, (lo, hi)) in [(0, self.x), (1, self.y)] {
            for (t, label) in nice_ticks(lo, hi, 6).labelled() {
                if axis == 0 {
                    let x = self.px(t);
                    let _ = writeln!(
                        s,
                        "<line x1=\"{x:.1}\" y1=\"{b}\" x2=\"{x:.1}\" y2=\"{b2}\" stroke=\"black\"/>\
                         <text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>",
                        label,
                        b = H - BOTTOM,
                        b2 = H - BOTTOM + 5.0,
                        ty = H - BOTTOM + 19.0
                    );
                } else {
                    let y = self.py(t);
                    let _ = writeln!(
                        s,
                        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{l2}\" y2=\"{y:.1}\" stroke=\"black\"/>\
                         <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
                        label,
                        l2 = LEFT - 5.0,
                        tx = LEFT - 8.0,
                        ty = y + 4.0
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"18\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">{}</text>",
            (LEFT + W - RIGHT) / 2.0,
            H - 12.0,
            esc(xlabel),
            (TOP + H - BOTTOM) / 2.0,
            (TOP + H - BOTTOM) / 2.0,
            esc(ylabel)
        );
        s
    }
    fn polyline(&self, xs: &[f64], ys: &[f64], style: &str) -> String {
        let mut s = String::new();
        let mut pts = String::new();
        for (&x, &y) in xs.iter().zip(ys) {
            if x.is_finite() && y.is_finite() {
                let _ = write!(
                    pts,
                    "{:.1},{:.1} ",
                    self.px(x),
                    self.py(y.clamp(self.y.0, self.y.1))
                );
            } else if !pts.is_empty() {
                let _ = writeln!(s, "<polyline fill=\"none\" {style} points=\"{pts}\"/>");
                pts.clear();
            }
        }
        if !pts.is_empty() {
            let _ = writeln!(s, "<polyline fill=\"none\" {style} points=\"{pts}\"/>");
        }
        s
    }
}

const COLOURS: [&str; 6] = [
    "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
];

/// The baseline-subtracted spectrum (black, gaps at flagged channels), the
/// sum of the components (blue), each component (colours; "unresolved" at
/// the minimum width) and the flagged RFI channels (red ticks and crosses
/// at their raw excess over the baseline), against v_LSR.
pub fn spectrum_components_svg(a: &Analysis) -> String {
    let v = &a.spectrum.v_lsr_km_s;
    let model: Vec<f64> = v.iter().map(|&x| a.fit.eval(x)).collect();
    let f = Frame {
        x: limits(v.iter(), 0.0),
        y: limits(a.t_sub_k.iter().chain(model.iter()), 0.05),
    };
    let title = format!(
        "{}  (l = {:.2}°, b = {:.2}°)  {} components, N_HI = {:.2e} cm⁻²",
        a.spectrum.name,
        a.spectrum.l_deg,
        a.spectrum.b_deg,
        a.fit.components.len(),
        a.n_hi_cm2
    );
    let mut s = f.open(&title, "v_LSR (km/s)", "T_A (K), baseline subtracted");
    s += &f.polyline(
        &[f.x.0, f.x.1],
        &[0.0, 0.0],
        "stroke=\"#999\" stroke-dasharray=\"4 3\"",
    );
    s += &f.polyline(v, &a.t_sub_k, "stroke=\"black\" stroke-width=\"1\"");
    for (i, c) in a.fit.components.iter().enumerate() {
        let y: Vec<f64> = v.iter().map(|&x| c.eval(x)).collect();
        s += &f.polyline(
            v,
            &y,
            &format!(
                "stroke=\"{}\" stroke-width=\"1.2\"",
                COLOURS[i % COLOURS.len()]
            ),
        );
        let hvc = a.hvc.iter().any(|h| h.0 == i);
        let unresolved = a.resolution.is_unresolved(c.sigma_km_s);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{}\">{:.1}{}{}</text>",
            f.px(c.center_km_s),
            f.py(c.amp_k) - 6.0,
            COLOURS[i % COLOURS.len()],
            c.center_km_s,
            if hvc { " HVC" } else { "" },
            if unresolved { " unresolved" } else { "" }
        );
    }
    for fl in &a.flags.flagged {
        for j in fl.first_channel..fl.first_channel + fl.width_channels {
            let (Some(&x), Some(&raw)) = (v.get(j), a.spectrum.t_k.get(j)) else {
                continue;
            };
            let y = raw - a.baseline.eval(x);
            let (px, py) = (f.px(x), f.py(y.clamp(f.y.0, f.y.1)));
            let _ = writeln!(
                s,
                "<g class=\"rfi\" stroke=\"#d62728\"><title>RFI ({}) {:.2} km/s, {:.2} K</title>\
                 <line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\"/>\
                 <path d=\"M{:.1} {:.1}l6 6m0 -6l-6 6\"/></g>",
                fl.source.name(),
                x,
                y,
                H - BOTTOM,
                H - BOTTOM - 8.0,
                px - 3.0,
                py - 3.0
            );
        }
    }
    s += &f.polyline(v, &model, "stroke=\"#1f77b4\" stroke-width=\"1.6\"");
    s + "</svg>\n"
}

/// Rotation curve: tangent points (R, V) and the flat V0 line.
pub fn rotation_curve_svg(points: &[TangentPoint], v0_km_s: f64, title: &str) -> String {
    let r: Vec<f64> = points.iter().map(|p| p.r_kpc).collect();
    let v: Vec<f64> = points.iter().map(|p| p.v_rot_km_s).collect();
    let f = Frame {
        x: (0.0, limits(r.iter(), 0.05).1.max(1.0)),
        y: (
            0.0,
            limits(v.iter().chain(std::iter::once(&v0_km_s)), 0.1).1,
        ),
    };
    let mut s = f.open(title, "R (kpc)", "V (km/s)");
    s += &f.polyline(
        &[f.x.0, f.x.1],
        &[v0_km_s, v0_km_s],
        "stroke=\"#999\" stroke-dasharray=\"5 4\"",
    );
    for p in points {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f77b4\"/>",
            f.px(p.r_kpc),
            f.py(p.v_rot_km_s)
        );
    }
    s + "</svg>\n"
}

/// A longitude-velocity diagram as coloured cells (longitude decreasing to
/// the right, as is customary).
pub fn lv_svg(d: &LvDiagram, title: &str) -> String {
    let (l_lo, l_hi) = limits(d.l_deg.iter(), 0.02);
    let f = Frame {
        x: (l_hi, l_lo),
        y: limits(d.v_km_s.iter(), 0.0),
    };
    let (_, t_hi) = limits(d.t_k.iter(), 0.0);
    let t_hi = t_hi.max(1e-9);
    let mut s = f.open(title, "Galactic longitude (deg)", "v_LSR (km/s)");
    let nl = d.l_deg.len();
    let dl = if nl > 1 {
        (l_hi - l_lo) / nl as f64
    } else {
        1.0
    };
    let dv = if d.v_km_s.len() > 1 {
        (d.v_km_s[1] - d.v_km_s[0]).abs()
    } else {
        1.0
    };
    for (iv, &v) in d.v_km_s.iter().enumerate() {
        for (il, &l) in d.l_deg.iter().enumerate() {
            let t = d.t_k[iv * nl + il];
            if !t.is_finite() {
                continue;
            }
            let x = (t / t_hi).clamp(0.0, 1.0);
            // Dark blue -> yellow.
            let (r, g, b) = (
                (255.0 * x) as u8,
                (40.0 + 200.0 * x) as u8,
                (120.0 * (1.0 - x)) as u8,
            );
            let (x0, x1) = (f.px(l + dl / 2.0), f.px(l - dl / 2.0));
            let (y0, y1) = (f.py(v + dv / 2.0), f.py(v - dv / 2.0));
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"rgb({r},{g},{b})\"/>",
                x0.min(x1),
                y0.min(y1),
                (x1 - x0).abs().max(0.5),
                (y1 - y0).abs().max(0.5)
            );
        }
    }
    s + "</svg>\n"
}
