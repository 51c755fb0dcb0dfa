//! Galactic extinction: the Cardelli, Clayton & Mathis (1989, ApJ 345, 245)
//! law with O'Donnell's (1994, ApJ 422, 158) optical coefficients, `R_V =
//! 3.1`, as IDL's `ccm_unred` and PyQSOFit's dereddening use it.

/// `A_lambda / E(B-V)` at wavelength `lambda` (A) for `R_V`; valid 1000 A
/// to 3.3 micron (0.3 <= x <= 10 um^-1), 0 outside.
pub fn a_lambda_over_ebv(lambda: f64, r_v: f64) -> f64 {
    let x = 1e4 / lambda;
    let (a, b) = if (0.3..1.1).contains(&x) {
        let y = x.powf(1.61);
        (0.574 * y, -0.527 * y)
    } else if (1.1..3.3).contains(&x) {
        let y = x - 1.82;
        // O'Donnell 1994 coefficients, highest power first.
        let ca = [
            -0.505, 1.647, -0.827, -1.718, 1.137, 0.701, -0.609, 0.104, 1.0,
        ];
        let cb = [
            3.347, -10.805, 5.491, 11.102, -7.985, -3.989, 2.908, 1.952, 0.0,
        ];
        let poly = |c: &[f64]| c.iter().fold(0.0, |acc, &k| acc * y + k);
        (poly(&ca), poly(&cb))
    } else if (3.3..8.0).contains(&x) {
        let (fa, fb) = if x > 5.9 {
            let y = x - 5.9;
            (
                -0.04473 * y * y - 0.009779 * y * y * y,
                0.2130 * y * y + 0.1207 * y * y * y,
            )
        } else {
            (0.0, 0.0)
        };
        (
            1.752 - 0.316 * x - 0.104 / ((x - 4.67).powi(2) + 0.341) + fa,
            -3.090 + 1.825 * x + 1.206 / ((x - 4.62).powi(2) + 0.263) + fb,
        )
    } else if (8.0..=10.0).contains(&x) {
        let y = x - 8.0;
        (
            -1.073 - 0.628 * y + 0.137 * y * y - 0.070 * y * y * y,
            13.670 + 4.257 * y - 0.420 * y * y + 0.374 * y * y * y,
        )
    } else {
        return 0.0;
    };
    r_v * (a + b / r_v)
}

/// Deredden observed-frame `flux` and `ivar` in place for `E(B-V)` (mag),
/// `R_V = 3.1`: flux times `10^(0.4 A)`, ivar divided by its square.
pub fn deredden(wave_obs: &[f64], flux: &mut [f64], ivar: &mut [f64], ebv: f64) {
    for ((w, f), iv) in wave_obs.iter().zip(flux.iter_mut()).zip(ivar.iter_mut()) {
        let k = 10f64.powf(0.4 * ebv * a_lambda_over_ebv(*w, 3.1));
        *f *= k;
        *iv /= k * k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccm_at_v_and_b_gives_r_v() {
        // A_V / E(B-V) = R_V at V (5495 A) and A_B - A_V = E(B-V), B 4405 A,
        // within the 1-2 % the polynomial fit allows.
        let av = a_lambda_over_ebv(5495.0, 3.1);
        let ab = a_lambda_over_ebv(4405.0, 3.1);
        assert!((av - 3.1).abs() < 0.02, "{av}");
        assert!((ab - av - 1.0).abs() < 0.05, "{}", ab - av);
    }
}
