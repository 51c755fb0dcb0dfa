//! Running mean spectra: the mean unflagged power per channel of a
//! recording, accumulated integration by integration as the spectrometer
//! gives them (weights: frames), and the baseline-removed mean spectrum of
//! a recording's stored integrations on a velocity axis (what a recording
//! is analysed as when no calibrated spectrum was made).

use crate::linefind::{
    average_spectra, find_line, radio_velocity_km_s, LineError, LineProfile, LineSearch,
};
use crate::spectrometer::Integration;

/// Mean unflagged power per channel, accumulated integration by integration
/// (weights: frames), with the RFI-flagged fraction.
#[derive(Debug, Clone)]
pub struct MeanSpectrum {
    sum: Vec<f64>,
    weight: Vec<f64>,
    /// Channel-integrations seen.
    pub n_cells: usize,
    /// Of those, flagged (RFI) or not finite.
    pub n_flagged: usize,
}

impl MeanSpectrum {
    /// An empty accumulator for `n` channels.
    pub fn new(n: usize) -> MeanSpectrum {
        MeanSpectrum {
            sum: vec![0.0; n],
            weight: vec![0.0; n],
            n_cells: 0,
            n_flagged: 0,
        }
    }

    /// Adds one integration's clean channels.
    pub fn add(&mut self, int: &Integration) {
        for (c, (&p, &f)) in int.power.iter().zip(&int.flags).enumerate() {
            self.n_cells += 1;
            if f == 0 && p.is_finite() {
                self.sum[c] += p as f64 * int.n_frames as f64;
                self.weight[c] += int.n_frames as f64;
            } else {
                self.n_flagged += 1;
            }
        }
    }

    /// The mean per channel (NaN where every integration was flagged).
    pub fn mean(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.weight)
            .map(|(s, w)| if *w > 0.0 { s / w } else { f64::NAN })
            .collect()
    }

    /// Fraction of channel-integrations flagged.
    pub fn flagged_fraction(&self) -> f64 {
        self.n_flagged as f64 / self.n_cells.max(1) as f64
    }
}

/// A recording's integrations (stored row by row) as one spectrum.
#[derive(Debug, Clone)]
pub struct RecordingSpectrum {
    /// Mean power per channel (flagged integrations left out, weights
    /// frames; NaN where every integration was flagged).
    pub mean: Vec<f64>,
    /// Sky frequency per channel, Hz.
    pub freq_hz: Vec<f64>,
    /// Radio velocity per channel, km/s, plus the LSR correction when
    /// there is one (v_LSR), else topocentric.
    pub v_km_s: Vec<f64>,
    /// The line search on the mean (`astrolab_hline::linefind`, as `hline
    /// process` does): its `ratio` (`P / baseline - 1`, in units of the
    /// system temperature, NaN at the band edges) is the spectrum analysed.
    pub profile: LineProfile,
}

/// The mean of `n_channels`-channel integrations `spectra` (row after row,
/// with their `flags` and frame counts), channel `c` at sky frequency
/// `first_channel_freq_hz + c * channel_width_hz`, with its line search and
/// velocity axis (`lsr_correction_km_s` added when known).
pub fn recording_spectrum(
    spectra: &[f32],
    flags: &[u8],
    n_frames: &[u64],
    n_channels: usize,
    first_channel_freq_hz: f64,
    channel_width_hz: f64,
    lsr_correction_km_s: Option<f64>,
) -> Result<RecordingSpectrum, LineError> {
    let (mean, _) = average_spectra(spectra, flags, n_frames, n_channels);
    let freq = |c: usize| first_channel_freq_hz + c as f64 * channel_width_hz;
    let profile = find_line(&mean, freq, &LineSearch::default())?;
    let shift = lsr_correction_km_s.unwrap_or(0.0);
    let freq_hz: Vec<f64> = (0..n_channels).map(freq).collect();
    let v_km_s = freq_hz
        .iter()
        .map(|&f| radio_velocity_km_s(f) + shift)
        .collect();
    Ok(RecordingSpectrum {
        mean,
        freq_hz,
        v_km_s,
        profile,
    })
}
