//! Polyphase filterbank (PFB) front end: the critically sampled,
//! windowed-sinc "weighted overlap-add" channeliser of radio astronomy
//! spectrometers (Price 2016, "Spectrometers and polyphase filterbanks in
//! radio astronomy", arXiv:1607.03579, section 4).
//!
//! Each output frame of N channels is the FFT of
//! `y[n] = sum_{t < T} x[t N + n] h[t N + n]` over the last T x N input
//! samples (T taps, 4 by default), with the prototype filter
//! `h[i] = w[i] sinc((i - (T N - 1) / 2) / N)` (w: Hann or Blackman window
//! over all T N points). Frames advance by N samples. Compared with a
//! windowed FFT, the channel response is flat-topped with much lower
//! leakage, so a narrow carrier stays in one channel.

use crate::spectrometer::Window;

/// Coefficients of a `taps` x `n` prototype filter.
pub fn prototype(n: usize, taps: usize, window: Window) -> Vec<f32> {
    let len = n * taps;
    let mid = (len as f64 - 1.0) / 2.0;
    (0..len)
        .map(|i| {
            let x = (i as f64 - mid) / n as f64;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            // Sampled at i + 1/2 of a 2 len grid: symmetric about the centre.
            (window.value(2 * i + 1, 2 * len) * sinc) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototype_is_symmetric_and_peaks_in_the_middle() {
        let h = prototype(64, 4, Window::Hann);
        assert_eq!(h.len(), 256);
        for i in 0..128 {
            assert!((h[i] - h[255 - i]).abs() < 1e-6);
        }
        let imax = (0..256).max_by(|&a, &b| h[a].total_cmp(&h[b])).unwrap();
        assert!(imax == 127 || imax == 128);
        // Zero crossings of the sinc one channel spacing (N samples) apart.
        assert!(h[127 - 64 + 1].abs() < 0.02 && h[127 - 64].abs() < 0.02);
    }
}
