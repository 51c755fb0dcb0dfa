//! Axis ticks at "nice numbers": steps of 1, 2, 2.5 or 5 x 10^n, labelled
//! with just the decimals the step needs. Every axis the project draws
//! (spectra, hydrogen-line and void figures, the server's pages) takes its
//! ticks from here.
//!
//! The algorithm is Heckbert's "loose labelling" (P. S. Heckbert, "Nice
//! numbers for graph labels", in A. S. Glassner (ed.), *Graphics Gems*,
//! Academic Press 1990, pp. 61-63): the data span is first rounded *up* to
//! a nice number, and that range divided by the wanted number of intervals
//! is *rounded* to a nice number to give the step. We add 2.5 to
//! Heckbert's 1, 2 and 5 (so a span of 1 in four steps reads 0, 0.25, 0.5
//! ...), and keep only the ticks inside the axis range instead of widening
//! the axis to the next ticks, so a figure's limits stay those of its data.

/// The ticks of one axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Distance between neighbouring ticks (1, 2, 2.5 or 5 x 10^n).
    pub step: f64,
    /// Tick positions inside the axis range, increasing.
    pub values: Vec<f64>,
    /// The step is (1, 2, 25 or 5) x 10^p.
    p: i32,
    /// Largest |tick| (for the choice of notation).
    max_abs: f64,
}

/// A nice number `q x 10^p` with q in {1, 2, 25, 5} (25 with one power of
/// ten less: 2.5 x 10^n). `round`: nearest nice number; otherwise the
/// smallest nice number >= x (Heckbert's `nicenum`).
fn nice_num(x: f64, round: bool) -> (i64, i32) {
    let mut e = x.log10().floor() as i32;
    let mut f = x / 10f64.powi(e);
    // log10 rounding can leave f just below 1 or at 10.
    if f >= 10.0 {
        f /= 10.0;
        e += 1;
    } else if f < 1.0 {
        f *= 10.0;
        e -= 1;
    }
    let (q, p) = if round {
        match f {
            f if f < 1.5 => (1, e),
            f if f < 2.25 => (2, e),
            f if f < 3.5 => (25, e - 1),
            f if f < 7.0 => (5, e),
            _ => (1, e + 1),
        }
    } else {
        match f {
            f if f <= 1.0 => (1, e),
            f if f <= 2.0 => (2, e),
            f if f <= 2.5 => (25, e - 1),
            f if f <= 5.0 => (5, e),
            _ => (1, e + 1),
        }
    };
    (q, p)
}

/// `n x 10^p`, as the double nearest to that decimal (so 3 x 10^-1 is
/// exactly the literal `0.3`, not `0.30000000000000004`).
fn scaled(n: i64, p: i32) -> f64 {
    if p >= 0 {
        n as f64 * 10f64.powi(p)
    } else {
        n as f64 / 10f64.powi(-p)
    }
}

/// Ticks for an axis from `lo` to `hi` with about `target` intervals (at
/// least 2 are asked for). A zero-width range gives one tick at `lo`, a
/// non-finite one none.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    if !(lo.is_finite() && hi.is_finite()) {
        return Ticks {
            step: 1.0,
            values: Vec::new(),
            p: 0,
            max_abs: 0.0,
        };
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let single = |v: f64| {
        let (q, p) = if v != 0.0 {
            nice_num(v.abs(), true)
        } else {
            (1, 0)
        };
        Ticks {
            step: scaled(q, p),
            values: vec![v],
            p,
            max_abs: v.abs(),
        }
    };
    if hi - lo <= 0.0 || !(hi - lo).is_finite() {
        return single(lo);
    }
    let intervals = target.clamp(2, 1000) as f64;
    let (rq, rp) = nice_num(hi - lo, false);
    let (q, p) = nice_num(scaled(rq, rp) / intervals, true);
    let step = scaled(q, p);
    // Tick k sits at k * q * 10^p; a hair of tolerance keeps ticks that
    // fall on the limits despite rounding.
    let k0 = (lo / step - 1e-9).ceil();
    let k1 = (hi / step + 1e-9).floor();
    if !(k0.is_finite() && k1.is_finite()) || k1 - k0 > 10.0 * intervals + 10.0 {
        return single(lo);
    }
    let values: Vec<f64> = (k0 as i64..=k1 as i64)
        .map(|k| scaled(k * q, p) + 0.0)
        .collect();
    let max_abs = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Ticks {
        step,
        values,
        p,
        max_abs,
    }
}

impl Ticks {
    /// The label of tick value `v`: fixed-point with the decimals the step
    /// needs (0.25 steps: two), or scientific notation (`1.4204e9`) when
    /// the ticks are very large or the step very small.
    pub fn label(&self, v: f64) -> String {
        let v = v + 0.0; // no "-0"
        let scientific = self.max_abs >= 1e7 || self.p < -5;
        if scientific {
            let top = if self.max_abs > 0.0 {
                self.max_abs.log10().floor() as i32
            } else {
                self.p
            };
            let digits = (top - self.p).clamp(0, 15) as usize;
            return format!("{v:.digits$e}");
        }
        let decimals = (-self.p).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
            s[1..].to_string()
        } else {
            s
        }
    }

    /// Each tick with its label.
    pub fn labelled(&self) -> impl Iterator<Item = (f64, String)> + '_ {
        self.values.iter().map(|&v| (v, self.label(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(t: &Ticks) -> Vec<String> {
        t.labelled().map(|(_, l)| l).collect()
    }

    #[test]
    fn steps_are_one_two_two_and_a_half_or_five_times_a_power_of_ten() {
        // The axis: 9.28 to 10.05 in four intervals.
        let t = nice_ticks(9.28, 10.05, 4);
        assert_eq!(t.step, 0.25);
        assert_eq!(t.values, vec![9.5, 9.75, 10.0]);
        assert_eq!(labels(&t), ["9.50", "9.75", "10.00"]);
        let t = nice_ticks(0.0, 1.0, 4);
        assert_eq!(t.values, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = nice_ticks(0.0, 1.0, 5);
        assert_eq!(t.step, 0.2);
        assert_eq!(t.values, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(labels(&t), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        // A DESI spectrum's wavelength range.
        let t = nice_ticks(3600.0, 9824.0, 8);
        assert_eq!(t.step, 1000.0);
        assert_eq!(labels(&t), ["4000", "5000", "6000", "7000", "8000", "9000"]);
        let t = nice_ticks(-3.7, 12.2, 6);
        assert_eq!(t.step, 2.5);
        assert_eq!(labels(&t), ["-2.5", "0.0", "2.5", "5.0", "7.5", "10.0"]);
        let t = nice_ticks(-3.7, 12.2, 3);
        assert_eq!(t.step, 5.0);
        assert_eq!(labels(&t), ["0", "5", "10"]);
        let t = nice_ticks(-0.35, 0.05, 4);
        assert_eq!(t.step, 0.1);
        assert_eq!(labels(&t), ["-0.3", "-0.2", "-0.1", "0.0"]);
        // Reversed limits are put in order.
        assert_eq!(nice_ticks(10.05, 9.28, 4).values, vec![9.5, 9.75, 10.0]);
    }

    #[test]
    fn values_are_the_decimals_themselves() {
        let t = nice_ticks(0.0, 0.7, 7);
        assert_eq!(t.values, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    }

    #[test]
    fn very_large_and_very_small_ticks_are_scientific() {
        let t = nice_ticks(1.4200e9, 1.4212e9, 6);
        assert_eq!(t.step, 2.5e5);
        assert_eq!(
            labels(&t),
            [
                "1.42000e9",
                "1.42025e9",
                "1.42050e9",
                "1.42075e9",
                "1.42100e9"
            ]
        );
        let t = nice_ticks(0.0, 3e-7, 3);
        assert_eq!(t.step, 2e-7);
        assert_eq!(labels(&t), ["0e0", "2e-7"]);
    }

    #[test]
    fn degenerate_ranges_give_one_tick_or_none() {
        let t = nice_ticks(2.0, 2.0, 5);
        assert_eq!(t.values, vec![2.0]);
        assert_eq!(labels(&t), ["2"]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).values.is_empty());
        assert!(nice_ticks(0.0, f64::INFINITY, 5).values.is_empty());
    }
}
