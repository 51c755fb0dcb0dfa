//! Narrow-band RFI in calibrated spectra (SALSA, SDFITS, CSV): channels
//! that stand out from both neighbours and are narrower than anything the
//! spectrometer can make of a real line, user-given bad frequency or
//! velocity ranges, and frequencies that recur across a session's spectra.
//! Flagged channels are left out of the baseline and the Gaussian fit (set
//! to NaN, never interpolated), and the narrowest Gaussian the fit may use
//! follows from the channel width and the spectrometer's response.
//!
//! References:
//! * Robust scale: the median absolute deviation, sigma = 1.4826 MAD for
//!   Gaussian noise (Hampel 1974, JASA 69, 383; Rousseeuw & Croux 1993,
//!   JASA 88, 1273), taken over first differences of neighbouring channels
//!   (divided by sqrt 2), which a broad line barely moves
//!   ([`crate::gauss::noise_rms`]).
//! * Flagging channels against a smooth local model and a robust threshold,
//!   then growing the set over repeated passes, is the scheme of AOFlagger's
//!   thresholding stage (Offringa et al. 2010, MNRAS 405, 155; 2012, A&A
//!   539, A95) reduced to one spectrum; the SDR path's spike clipper
//!   ([`crate::rfi::flag_spikes`]) does the same on raw power.
//! * Resolution: a line is only resolved when it spans more than one
//!   resolution element; the narrowest Gaussian allowed has sigma equal to
//!   the spectrometer's response width (FWHM of the channel response: 1
//!   channel for a box channel or a PFB, 1.44 for a Hann-windowed FFT,
//!   1.68 for Blackman; Harris 1978, Proc. IEEE 66, 51, table 1), so its
//!   FWHM covers 2.355 response widths (Nyquist sampling of the profile).
//!
//! The spike test, per run of one or two channels `S` (positive or
//! negative): (1) every channel of `S` stands more than `k_sigma` robust
//! sigmas (0.9 `k_sigma` for a two-channel run) above (below) both its
//! neighbouring channels, its excess over a local background (a quartic
//! through the usable channels 2 to `half_window + 1` beyond the run, the
//! neighbours left out, a channel off it by more than 2 `k_sigma` sigmas
//! dropped and the fit repeated) exceeds `k_sigma` sigmas too, and (2) the feature
//! is narrower than the resolution: the mean excess of the two neighbours
//! over that background is below half of what the narrowest resolvable
//! Gaussian (sigma `min_sigma_channels`, centred anywhere in the run) would
//! leave there ([`narrowest_neighbour_ratio`]: 0.61 of the peak for one
//! channel and sigma = 1 channel, 0.37 for two). A real line, however
//! bright, lifts its neighbours with it and fails (2). The search is
//! repeated (3 passes at most) with the flagged channels out, until nothing
//! new is flagged.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::gauss::{noise_rms, Component};

/// Why a channel is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSource {
    /// One or two channels narrower than the resolution (this spectrum).
    Spike,
    /// A recurring RFI frequency of the session, confirmed in this spectrum
    /// at the lower `persistent_k_sigma` threshold.
    Persistent,
    /// A user-given bad frequency or velocity range.
    User,
}

impl FlagSource {
    /// Name as written in tables.
    pub fn name(self) -> &'static str {
        match self {
            FlagSource::Spike => "spike",
            FlagSource::Persistent => "persistent",
            FlagSource::User => "user",
        }
    }
}

/// One flagged feature: a run of channels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flagged {
    /// First channel (0-based).
    pub first_channel: usize,
    /// Channels in the run.
    pub width_channels: usize,
    /// The channel with the largest |excess|.
    pub peak_channel: usize,
    /// Signed excess over the local background at the peak channel, K (or
    /// the spectrum's unit); NaN for user ranges.
    pub amp_k: f64,
    pub source: FlagSource,
}

/// The spectrometer's resolution and the narrowest Gaussian it allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution {
    /// Channel width as a velocity, km/s (positive).
    pub channel_width_km_s: f64,
    /// FWHM of one channel's response, in channels (1 when unknown: a box
    /// channel; at least 1 in any case).
    pub response_channels: f64,
}

/// Response FWHM in channels of a Hann-windowed FFT (Harris 1978, table 1).
pub const HANN_RESPONSE_CHANNELS: f64 = 1.44;
/// Response FWHM in channels of a Blackman-windowed FFT (Harris 1978).
pub const BLACKMAN_RESPONSE_CHANNELS: f64 = 1.68;

impl Resolution {
    /// From a channel velocity step (either sign) and a response width in
    /// channels (NaN or below 1 count as 1).
    pub fn new(channel_width_km_s: f64, response_channels: f64) -> Resolution {
        Resolution {
            channel_width_km_s: channel_width_km_s.abs(),
            response_channels: if response_channels >= 1.0 {
                response_channels
            } else {
                1.0
            },
        }
    }
    /// The velocity step of the first two finite neighbouring channels.
    pub fn from_axis(v_km_s: &[f64], response_channels: f64) -> Resolution {
        let dv = v_km_s
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .find(|x| x.is_finite() && *x > 0.0)
            .unwrap_or(1.0);
        Resolution::new(dv, response_channels)
    }
    /// Narrowest Gaussian sigma of a resolved line, km/s: one response width.
    pub fn min_sigma_km_s(&self) -> f64 {
        self.channel_width_km_s * self.response_channels
    }
    /// Its FWHM, km/s.
    pub fn min_fwhm_km_s(&self) -> f64 {
        self.min_sigma_km_s() * (8.0 * std::f64::consts::LN_2).sqrt()
    }
    /// Whether a component of this sigma sits at the minimum width (within
    /// 1 %): the fit pressed it against the bound, the line is unresolved.
    pub fn is_unresolved(&self, sigma_km_s: f64) -> bool {
        !(sigma_km_s > 1.01 * self.min_sigma_km_s())
    }
    /// The resolved components, in their order (strongest first after
    /// [`crate::gauss::decompose`]): the HI lines; what is left out is no
    /// line at this resolution.
    pub fn resolved(&self, components: &[Component]) -> Vec<Component> {
        components
            .iter()
            .filter(|c| !self.is_unresolved(c.sigma_km_s))
            .copied()
            .collect()
    }
}

/// Options of [`flag_narrowband`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeOptions {
    /// Height over the line through the neighbours, robust sigmas.
    pub k_sigma: f64,
    /// The same at channels of a session's persistent RFI frequencies.
    pub persistent_k_sigma: f64,
    /// Longest run flagged as one spike, channels.
    pub max_width_channels: usize,
    /// Channels each side of a run's neighbours in the background fit.
    pub half_window: usize,

    /// Narrowest resolvable line, in channels (sigma): the resolution's
    /// response width.
    pub min_sigma_channels: f64,
}

impl Default for SpikeOptions {
    fn default() -> Self {
        SpikeOptions {
            k_sigma: 5.0,
            persistent_k_sigma: 3.0,
            max_width_channels: 2,
            half_window: 4,
            min_sigma_channels: 1.0,
        }
    }
}

impl SpikeOptions {
    /// Defaults with the narrowest line of `r`.
    pub fn for_resolution(r: &Resolution) -> SpikeOptions {
        SpikeOptions {
            min_sigma_channels: r.response_channels,
            ..SpikeOptions::default()
        }
    }
}

/// The flags of one spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct NarrowbandFlags {
    /// Per channel: left out of baseline and fit.
    pub excluded: Vec<bool>,
    /// Flagged features, by first channel.
    pub flagged: Vec<Flagged>,
    /// Robust noise (K) the thresholds used.
    pub noise_k: f64,
}

impl NarrowbandFlags {
    /// `t` with excluded channels set to NaN.
    pub fn apply(&self, t: &[f64]) -> Vec<f64> {
        t.iter()
            .zip(&self.excluded)
            .map(|(&v, &x)| if x { f64::NAN } else { v })
            .collect()
    }
    /// Peak channels of spikes (detected or persistent), for learning a
    /// session's recurring frequencies.
    pub fn spike_channels(&self) -> Vec<usize> {
        self.flagged
            .iter()
            .filter(|f| f.source != FlagSource::User)
            .map(|f| f.peak_channel)
            .collect()
    }
}

/// Channels whose extent (centre +- half the spacing to the next channel)
/// overlaps one of `ranges` (inclusive, either order; a single value
/// `(x, x)` marks the channel containing it) on `axis`.
pub fn range_mask(axis: &[f64], ranges: &[(f64, f64)]) -> Vec<bool> {
    let n = axis.len();
    (0..n)
        .map(|i| {
            let x = axis[i];
            if !x.is_finite() {
                return false;
            }
            let step = [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                .into_iter()
                .flatten()
                .map(|j| (axis[j] - x).abs())
                .find(|d| d.is_finite())
                .unwrap_or(0.0);
            let (lo, hi) = (x - 0.5 * step, x + 0.5 * step);
            ranges
                .iter()
                .any(|&(a, b)| lo <= a.max(b) && hi >= a.min(b))
        })
        .collect()
}

/// Solves the small normal equations of a linear least-squares fit; the
/// residual sum of squares and the coefficients.
fn lsq(rows: &[Vec<f64>], y: &[f64]) -> Option<(f64, Vec<f64>)> {
    let k = rows.first()?.len();
    if rows.len() <= k {
        return None;
    }
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    for (r, &v) in rows.iter().zip(y) {
        for i in 0..k {
            b[i] += r[i] * v;
            for j in 0..k {
                a[i][j] += r[i] * r[j];
            }
        }
    }
    // A little ridge keeps nearly collinear columns solvable.
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-12 * row[i].abs().max(1e-12);
    }
    let c = crate::gauss::solve_spd(&a, &b)?;
    let rss = rows
        .iter()
        .zip(y)
        .map(|(r, &v)| {
            let m: f64 = r.iter().zip(&c).map(|(x, y)| x * y).sum();
            (v - m) * (v - m)
        })
        .sum();
    Some((rss, c))
}

/// Flagging passes at most (see [`flag_narrowband`]).
const MAX_PASSES: usize = 6;

/// On a line's slope (neighbours differing by more than the run's height
/// over the line through them) a run may stand out of that line instead of
/// above both neighbours, at this multiple of the threshold for one channel
/// and of the two-channel threshold for a pair. Real HI tops carry narrow
/// structure a line through two channels does not follow: at 1 the shared
/// SALSA sessions gain 17 flags on line tops (a pair at 1x: 30), at 1.25
/// six (listed in tests/salsa_spikes.rs), with 95.0 % of injected spikes
/// found against 94.1 % without the slope test.
const SLOPE_K_SINGLE: f64 = 1.25;
/// See [`SLOPE_K_SINGLE`].
const SLOPE_K_PAIR: f64 = 3.0;

/// Fraction of the threshold a two-channel run must reach.
const WIDE_K: f64 = 0.9;

/// Tests the run `first..first + w`: `Some(signed excess at its peak
/// channel, peak channel, least height over the neighbours' line)` when it
/// is a spike at threshold `k`.
fn test_run(
    t: &[f64],
    usable: &[bool],
    first: usize,
    w: usize,
    k: f64,
    noise: f64,
    o: &SpikeOptions,
) -> Option<(f64, usize, f64)> {
    let run = first..first + w;
    if run.end > t.len() || !run.clone().all(|j| usable[j]) {
        return None;
    }
    // The immediate neighbours, both usable: next to a flagged or missing
    // channel nothing is tested (no creeping into a line's flanks).
    let a = first.checked_sub(1)?;
    let b = run.end;
    if b >= t.len() || !usable[a] || !usable[b] {
        return None;
    }
    // (1) Every channel of the run above (or below) both neighbours by k
    // sigma, which a line's flank never is; or, on a slope (neighbours
    // differing by more than the run's height), above (below) the line
    // through the neighbours by SLOPE_K k_sigma sigma (that height carries
    // sqrt(1.5) sigma of noise): there the line follows the slope, so a
    // spike on a flank stands out of it as on flat ground. At a session's
    // recurring frequency the lower threshold `k` takes the first shape only.
    let line = |j: usize| t[a] + (t[b] - t[a]) * (j - a) as f64 / (b - a) as f64;
    let sign = (t[first] - line(first)).signum();
    let excess: Vec<f64> = run.clone().map(|j| sign * (t[j] - line(j))).collect();
    let over_both: Vec<f64> = run
        .clone()
        .map(|j| (sign * (t[j] - t[a])).min(sign * (t[j] - t[b])))
        .collect();
    let wide = |k: f64| if w > 1 { WIDE_K * k } else { k };
    let steep = (t[b] - t[a]).abs() > excess.iter().copied().fold(f64::INFINITY, f64::min);
    let f = if w > 1 { SLOPE_K_PAIR } else { SLOPE_K_SINGLE };
    let on_slope = steep
        && excess
            .iter()
            .all(|e| *e > f * wide(o.k_sigma) * 1.5f64.sqrt() * noise);
    let above_both = over_both.iter().all(|e| *e > wide(k) * noise);
    if !(on_slope || above_both) {
        return None;
    }
    // (2) Narrower than the resolution: a quartic background through the
    // usable channels 2 to half_window + 1 beyond the run (the immediate
    // neighbours left out); over it, the neighbours of any resolvable line
    // carry at least `rho` of the run's excess, those of a spike nothing.
    let centre = 0.5 * (first + run.end - 1) as f64;
    let scale = (o.half_window as f64 + w as f64).max(1.0);
    let poly = |j: usize| -> Vec<f64> {
        let x = (j as f64 - centre) / scale;
        vec![1.0, x, x * x, x * x * x, x * x * x * x]
    };
    let lo = a.saturating_sub(o.half_window);
    let hi = (b + o.half_window + 1).min(t.len());
    let outer: Vec<usize> = (lo..hi)
        .filter(|&j| usable[j] && j != a && j != b && !run.contains(&j))
        .collect();
    let left = outer.iter().filter(|&&j| j < a).count();
    // The channels just beyond the neighbours must be there: across a gap
    // (a flagged spike) the quartic cannot follow a steep line's flank.
    let beyond = |j: Option<usize>| j.is_some_and(|j| j < t.len() && usable[j]);
    if left < 2 || outer.len() - left < 2 || !beyond(a.checked_sub(1)) || !beyond(Some(b + 1)) {
        return None;
    }
    // Robust: a channel of the window off the quartic by more than 2 k sigma
    // (another spike, not yet flagged) is dropped and the fit repeated, as
    // long as two channels stay on each side and the fit stays determined.
    let mut outer = outer;
    let cb = loop {
        let rows: Vec<Vec<f64>> = outer.iter().map(|&j| poly(j)).collect();
        let y: Vec<f64> = outer.iter().map(|&j| t[j]).collect();
        let (_, cb) = lsq(&rows, &y)?;
        let worst = outer
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                let m: f64 = poly(j).iter().zip(&cb).map(|(x, c)| x * c).sum();
                (i, (t[j] - m).abs())
            })
            .max_by(|x, y| x.1.total_cmp(&y.1));
        let Some((i, r)) = worst else { break cb };
        let left = outer.iter().filter(|&&j| j < a).count();
        let on_left = outer[i] < a;
        let room = if on_left {
            left > 2
        } else {
            outer.len() - left > 2
        };
        if r > 2.0 * k * noise && room && outer.len() > 6 {
            outer.remove(i);
        } else {
            break cb;
        }
    };
    let bg = |j: usize| -> f64 { poly(j).iter().zip(&cb).map(|(x, c)| x * c).sum() };
    let (peak, amp) = run
        .clone()
        .map(|j| (j, t[j] - bg(j)))
        .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))?;
    let e_run = run.clone().map(|j| t[j] - bg(j)).sum::<f64>() / w as f64;
    let e_neighbours = 0.5 * (t[a] - bg(a) + t[b] - bg(b));
    let rho = narrowest_neighbour_ratio(w, o.min_sigma_channels);
    (amp * sign > k * noise && e_neighbours * sign < 0.5 * rho * e_run * sign).then_some((
        amp,
        peak,
        excess.iter().copied().fold(f64::INFINITY, f64::min),
    ))
}

/// The smallest ratio (mean of the two outer neighbours over the mean of
/// the run) that a Gaussian of `sigma_channels` makes of a run of `w`
/// channels standing above its neighbours, over centres within the run.
pub fn narrowest_neighbour_ratio(w: usize, sigma_channels: f64) -> f64 {
    let s = sigma_channels.max(0.5);
    let g = |x: f64| (-0.5 * (x / s).powi(2)).exp();
    let half = 0.5 * (w as f64 - 1.0);
    (0..=20)
        .map(|k| -0.5 + k as f64 / 20.0)
        .map(|d| {
            let run = (0..w).map(|j| g(j as f64 - half - d)).sum::<f64>() / w as f64;
            let nb = 0.5 * (g(-half - 1.0 - d) + g(half + 1.0 - d));
            nb / run
        })
        .fold(f64::INFINITY, f64::min)
}

/// Whether every channel of the run `first..first + w` stands out of the
/// line through its neighbours by `k_sigma` and by a quarter of `amp`.
fn wide_ok(t: &[f64], first: usize, w: usize, amp: f64, noise: f64, o: &SpikeOptions) -> bool {
    let (Some(a), b) = (first.checked_sub(1), first + w) else {
        return false;
    };
    if b >= t.len() {
        return false;
    }
    let sign = amp.signum();
    (first..b).all(|j| {
        let e = ((t[j] - t[a]) * sign).min((t[j] - t[b]) * sign);
        e > o.k_sigma * noise && e > 0.25 * amp.abs()
    })
}

/// Flags narrow-band RFI in a calibrated spectrum `t` (channel order):
/// `user` marks channels given as bad (same length, or empty), and
/// `persistent` lists channels of the session's recurring RFI frequencies,
/// tested at `persistent_k_sigma`. Runs of one up to `max_width_channels`
/// channels are tested; where candidates overlap or touch, the one standing
/// out most is kept.
pub fn flag_narrowband(
    t: &[f64],
    user: &[bool],
    persistent: &[usize],
    o: &SpikeOptions,
) -> NarrowbandFlags {
    let n = t.len();
    let mut excluded: Vec<bool> = (0..n)
        .map(|i| user.get(i).copied().unwrap_or(false))
        .collect();
    let mut flagged: Vec<Flagged> = Vec::new();
    // User ranges as runs.
    let mut i = 0;
    while i < n {
        if excluded[i] {
            let start = i;
            while i < n && excluded[i] {
                i += 1;
            }
            flagged.push(Flagged {
                first_channel: start,
                width_channels: i - start,
                peak_channel: start,
                amp_k: f64::NAN,
                source: FlagSource::User,
            });
        } else {
            i += 1;
        }
    }
    let clean: Vec<f64> = t
        .iter()
        .zip(&excluded)
        .map(|(&v, &x)| if x { f64::NAN } else { v })
        .collect();
    let noise = noise_rms(&clean);
    if !(noise > 0.0) {
        return NarrowbandFlags {
            excluded,
            flagged,
            noise_k: noise,
        };
    }
    // Passes until nothing new is flagged: a spike in another's background
    // window or beside it is tested again once that one is out.
    for _pass in 0..MAX_PASSES {
        let before = flagged.len();
        let usable: Vec<bool> = (0..n).map(|j| !excluded[j] && t[j].is_finite()).collect();
        // (height over the neighbours' line, amplitude, first, width, peak, source)
        let mut found: Vec<(f64, f64, usize, usize, usize, FlagSource)> = Vec::new();
        for first in 0..n {
            for w in 1..=o.max_width_channels.max(1) {
                let is_persistent = (first..first + w).any(|j| persistent.contains(&j));
                let k = if is_persistent {
                    o.persistent_k_sigma.min(o.k_sigma)
                } else {
                    o.k_sigma
                };
                if let Some((amp, peak, h)) = test_run(t, &usable, first, w, k, noise, o) {
                    let source = if amp.abs() > o.k_sigma * noise {
                        FlagSource::Spike
                    } else {
                        FlagSource::Persistent
                    };
                    found.push((h, amp, first, w, peak, source));
                }
            }
        }
        // Largest excess over the local background first: channels between
        // two spikes, or beside one, stand out of the line through their
        // neighbours (a spike among them) but hardly out of the background,
        // so they come later; a run overlapping (or near) one already taken
        // this pass waits for the next pass.
        found.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
        let mut taken = vec![false; n];
        let mut near = vec![false; n];
        // A one-channel candidate inside a two-channel one whose both
        // channels stand out over the background is the two-channel spike.
        let wide: Vec<(f64, f64, usize, usize, usize, FlagSource)> = found
            .iter()
            .filter(|c| c.3 > 1 && c.1.abs() > 0.0)
            .copied()
            .collect();
        for (_, amp, first, w, peak, source) in found {
            let (first, w) = match wide.iter().find(|c| {
                w == 1 && c.2 <= first && first < c.2 + c.3 && wide_ok(t, c.2, c.3, amp, noise, o)
            }) {
                Some(c) => (c.2, c.3),
                None => (first, w),
            };
            // A run overlapping or touching a stronger candidate (taken or
            // waiting) is dropped this pass: it is that candidate's edge.
            let lo = first.saturating_sub(1);
            let hi = (first + w + 1).min(n);
            if near[lo..hi].iter().any(|&x| x) {
                continue;
            }
            near[first..first + w].iter_mut().for_each(|x| *x = true);
            // A run whose background window holds a stronger candidate taken
            // this pass waits: its background is fitted again without it.
            let lo = first.saturating_sub(o.half_window + 2);
            let hi = (first + w + o.half_window + 2).min(n);
            if taken[lo..hi].iter().any(|&x| x) {
                continue;
            }
            for j in first..first + w {
                taken[j] = true;
                excluded[j] = true;
            }
            flagged.push(Flagged {
                first_channel: first,
                width_channels: w,
                peak_channel: peak,
                amp_k: amp,
                source,
            });
        }
        if flagged.len() == before {
            break;
        }
    }
    flagged.sort_by_key(|f| f.first_channel);
    NarrowbandFlags {
        excluded,
        flagged,
        noise_k: noise,
    }
}

/// A session's recurring RFI frequencies: the spike frequencies (Hz,
/// topocentric) of each spectrum in `per_spectrum`, grouped within half a
/// channel (`channel_width_hz`), kept when they occur in at least
/// `min_spectra` spectra and `min_fraction` of all.
pub fn persistent_frequencies_hz(
    per_spectrum: &[Vec<f64>],
    channel_width_hz: f64,
    min_spectra: usize,
    min_fraction: f64,
) -> Vec<f64> {
    let tol = 0.5 * channel_width_hz.abs();
    // (frequency, spectrum) pairs, sorted by frequency.
    let mut all: Vec<(f64, usize)> = per_spectrum
        .iter()
        .enumerate()
        .flat_map(|(s, fs)| fs.iter().filter(|f| f.is_finite()).map(move |&f| (f, s)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let need = (min_spectra.max(1)).max((min_fraction * per_spectrum.len() as f64).ceil() as usize);
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 - all[j - 1].0 <= tol {
            j += 1;
        }
        let mut spectra: Vec<usize> = all[i..j].iter().map(|x| x.1).collect();
        spectra.sort_unstable();
        spectra.dedup();
        if spectra.len() >= need {
            let mean = all[i..j].iter().map(|x| x.0).sum::<f64>() / (j - i) as f64;
            out.push(mean);
        }
        i = j;
    }
    out
}

/// Channels of `freq_hz` within half a channel of one of `frequencies_hz`.
pub fn channels_at(freq_hz: &[f64], frequencies_hz: &[f64]) -> Vec<usize> {
    let mask = range_mask(
        freq_hz,
        &frequencies_hz.iter().map(|&f| (f, f)).collect::<Vec<_>>(),
    );
    (0..mask.len()).filter(|&i| mask[i]).collect()
}

/// One spectrum of a session, as [`flag_session`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct SpectrumAxes<'a> {
    /// Topocentric sky frequency per channel, Hz, when known (persistent
    /// frequencies and `--mask-freq` need it).
    pub freq_hz: Option<&'a [f64]>,
    /// Velocity per channel (v_LSR), km/s.
    pub v_km_s: &'a [f64],
    /// Calibrated spectrum, K.
    pub t_k: &'a [f64],
    /// Response width in channels (see [`Resolution`]).
    pub response_channels: f64,
}

/// User-given bad ranges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserMask {
    /// Topocentric frequency ranges, Hz (a single value: its channel).
    pub freq_hz: Vec<(f64, f64)>,
    /// Velocity ranges, km/s.
    pub v_km_s: Vec<(f64, f64)>,
}

/// Fewest spectra of a session that must share a spike frequency for it to
/// count as persistent ...
pub const PERSISTENT_MIN_SPECTRA: usize = 3;
/// ... and the fewest as a fraction of the session.
pub const PERSISTENT_MIN_FRACTION: f64 = 0.05;

/// Flags one spectrum: the user's ranges, then spikes, at the channels of
/// `persistent_hz` with the lower threshold.
pub fn flag_spectrum(s: &SpectrumAxes, user: &UserMask, persistent_hz: &[f64]) -> NarrowbandFlags {
    let mut bad = range_mask(s.v_km_s, &user.v_km_s);
    let mut persistent = Vec::new();
    if let Some(f) = s.freq_hz {
        for (b, m) in bad.iter_mut().zip(range_mask(f, &user.freq_hz)) {
            *b |= m;
        }
        persistent = channels_at(f, persistent_hz);
    }
    let r = Resolution::from_axis(s.v_km_s, s.response_channels);
    flag_narrowband(s.t_k, &bad, &persistent, &SpikeOptions::for_resolution(&r))
}

/// Flags a session's spectra in two passes: each alone, then again with the
/// spike frequencies found in at least [`PERSISTENT_MIN_SPECTRA`] spectra
/// and [`PERSISTENT_MIN_FRACTION`] of them (spectra without a frequency
/// axis take no part). Returns the flags and the persistent frequencies (Hz).
pub fn flag_session(spectra: &[SpectrumAxes], user: &UserMask) -> (Vec<NarrowbandFlags>, Vec<f64>) {
    let first: Vec<NarrowbandFlags> = spectra
        .iter()
        .map(|s| flag_spectrum(s, user, &[]))
        .collect();
    let with_freq: Vec<(&SpectrumAxes, &NarrowbandFlags)> = spectra
        .iter()
        .zip(&first)
        .filter(|(s, _)| s.freq_hz.is_some())
        .collect();
    let per: Vec<Vec<f64>> = with_freq
        .iter()
        .map(|(s, f)| {
            let fr = s.freq_hz.unwrap_or(&[]);
            f.spike_channels()
                .iter()
                .filter_map(|&c| fr.get(c).copied())
                .collect()
        })
        .collect();
    let width_hz = with_freq
        .iter()
        .filter_map(|(s, _)| {
            let f = s.freq_hz?;
            f.windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .find(|d| d.is_finite() && *d > 0.0)
        })
        .fold(f64::NAN, |a, b| if a.is_nan() { b } else { a.min(b) });
    if !(width_hz > 0.0) {
        return (first, Vec::new());
    }
    let persistent = persistent_frequencies_hz(
        &per,
        width_hz,
        PERSISTENT_MIN_SPECTRA,
        PERSISTENT_MIN_FRACTION,
    );
    if persistent.is_empty() {
        return (first, persistent);
    }
    let second = spectra
        .iter()
        .map(|s| flag_spectrum(s, user, &persistent))
        .collect();
    (second, persistent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(n: usize, seed: u64) -> Vec<f64> {
        // Sum of 12 uniforms - 6: unit-variance, near-Gaussian.
        let mut state = seed;
        (0..n)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (state >> 11) as f64 / (1u64 << 53) as f64
                    })
                    .sum::<f64>()
                    - 6.0
            })
            .collect()
    }

    #[test]
    fn a_spike_on_a_line_is_flagged_and_the_line_is_not() {
        let n = 256;
        let mut t: Vec<f64> = noisy(n, 7)
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let x = i as f64;
                // A bright broad line and a narrow resolved one (sigma 1.3 ch).
                60.0 * (-0.5 * ((x - 120.0) / 4.0).powi(2)).exp()
                    + 30.0 * (-0.5 * ((x - 180.0) / 1.3).powi(2)).exp()
                    + 0.3 * e
            })
            .collect();
        t[121] += 4.0;
        t[60] -= 3.0;
        t[200] += 10.0;
        t[201] += 8.0;
        t[30] += 42.0;
        t[31] += 30.0;
        let f = flag_narrowband(&t, &[], &[], &SpikeOptions::default());
        let peaks: Vec<(usize, usize)> = f
            .flagged
            .iter()
            .map(|x| (x.first_channel, x.width_channels))
            .collect();
        assert_eq!(peaks, vec![(30, 2), (60, 1), (121, 1), (200, 2)], "{f:?}");
        assert!(f.flagged[1].amp_k < -2.0 && (f.flagged[2].amp_k - 4.0).abs() < 1.0);
        assert!(f.excluded[121] && !f.excluded[120] && !f.excluded[180]);
    }

    #[test]
    fn user_ranges_and_persistent_frequencies() {
        let axis: Vec<f64> = (0..10).map(|i| 100.0 + 2.0 * i as f64).collect();
        assert_eq!(
            range_mask(&axis, &[(103.5, 103.5), (112.0, 109.5)]),
            vec![false, false, true, false, false, true, true, false, false, false]
        );
        let p = persistent_frequencies_hz(
            &[vec![10.0, 50.0], vec![10.4], vec![9.8, 70.0], vec![]],
            1.0,
            3,
            0.5,
        );
        assert_eq!(p.len(), 1);
        assert!((p[0] - 10.0667).abs() < 1e-3);
        assert_eq!(channels_at(&axis, &[104.9]), vec![2]);
        let r = Resolution::new(-2.06, f64::NAN);
        assert_eq!(r.min_sigma_km_s(), 2.06);
        assert!(r.is_unresolved(2.06) && !r.is_unresolved(2.5));
    }
}
