//! The combined ANOMALY_SCORE, its threshold at a chosen false-positive
//! rate, and the metrics that judge it.
//!
//! **Combination.** The two detectors measure different things: the
//! reconstruction reduced chi-square ([`crate::score`]) flags a spectrum the
//! VAE cannot reproduce; the Isolation Forest score ([`crate::iforest`])
//! flags one the VAE reproduces but places in a sparse corner of latent
//! space. Their scales are unrelated (chi-square is heavy-tailed and
//! unbounded; the forest score lives in (0, 1]), so each is first mapped
//! through its own empirical distribution on held-out *normal* spectra
//! (the "reference" set) — a rank normalisation, as in conformal outlier
//! detection (Vovk, Gammerman & Shafer 2005; Bates et al. 2023, Ann. Stat.
//! 51, 149) — and the two ranks are combined by their **maximum**. The
//! maximum, not the mean: an anomaly often shows in one channel only (a
//! broad absorption trough is badly reconstructed yet may sit in an
//! ordinary latent region), and a mean would halve such a signal with the
//! other channel's ordinary rank. The price of the maximum is more false
//! positives at a given rank (two chances to be extreme), which the
//! threshold below absorbs because it is calibrated on the combined score.
//!
//! **Local channel.** Models fitted with a local statistic
//! ([`crate::score::Scores::local`]) combine the chi-square rank with the
//! local statistic's rank instead ([`Calibration::fit_local`]): on the
//! labelled benchmark the forest's rank, in the maximum, added more false
//! positives than rarities (AUC 0.82 with it, 0.85 without, on one model:
//! `examples/anomaly_variants.rs` in astrolab-pipeline). Its score is still
//! computed and stored (ISO_SCORE) for what it shows on its own.
//!
//! **Fisher's method** ([`Calibration::fit_fisher`], models trained since
//! 2026-12-06). Three residual channels: the chi-square (the whole
//! spectrum), the local statistic (a few pixels) and the broad statistic
//! (a few smooth modes, [`crate::score`]). Each channel's upper-tail
//! probability among the reference normals, `p = 1 - rank`, is combined
//! by Fisher's sum `-sum ln p` (Fisher 1932, *Statistical Methods for
//! Research Workers*, 4th ed., sect. 21.1), and ANOMALY_SCORE is that
//! sum's rank among the reference normals' own sums, so it stays a score in
//! `(0, 1)` with the threshold near `1 - fpr`. The maximum lets a
//! spectrum through on its single most extreme channel; Fisher's sum also
//! adds up moderate evidence in several, which is how broad rarities
//! show (an arm step is mildly odd in the chi-square and the broad
//! statistic at once). On the labelled benchmark the maximum of the
//! chi-square and local ranks gave an AUC of 0.923, Fisher's sum with
//! the broad channel 0.934 (0.921 and 0.923 on the unseen set; over the
//! rarities visible at 5 sigma 0.944 -> 0.960 and 0.953 -> 0.973;
//! bench/RESULTS.md, 2026-12-06). The forest stays out of the sum, as
//! out of the maximum: with it the AUC fell (0.926). Its trimming fences
//! every channel ([`OutlierFence::fit_all`]): with the chi-square's fence
//! alone, the threshold let through 0.46 % of unseen normals for 1 %
//! asked; with all three, 0.98 % to 1.36 %.
//!
//! **Trimming.** The held-out sets are random draws of the selected
//! spectra, rarities included (about 1.5 % on the benchmark). Left in,
//! they take the top of the reference ranks, so a normal quasar never
//! ranks above about `1 - contamination`, and the calibration quantile
//! lands among the rarities: the threshold then holds a far lower rate on
//! normals than asked (0.17 % for 1 % on the benchmark). Before the ranks
//! and the threshold are fitted, [`Calibration::fit_local`] leaves out the
//! gross outliers of both sets: beyond a robust fence (median + 5 x 1.4826
//! MAD, Hampel 1974, JASA 69, 383) on ln chi2, fitted on the reference set. Subtler rarities stay in; they sit inside
//! the normals' range and bias little.
//!
//! **Rank normalisation** ([`Reference::rank`]): the mid-rank empirical CDF
//! of the reference values (Hazen plotting positions, `(i - 1/2) / n` for
//! distinct values), interpolated linearly between reference values so
//! that it is continuous and strictly increasing inside the range, and
//! continued beyond it by hyperbolic tails that tend to 0 and 1, with the
//! reference range as their scale. So spectra more extreme than every
//! reference normal still rank among themselves instead of tying at 1.
//!
//! **Threshold** ([`threshold_at_fpr`]): a spectrum is anomalous when its
//! score is *above* the threshold; the threshold is the empirical quantile
//! of the combined scores of a second held-out set of normal spectra (the
//! "calibration" set, disjoint from the reference set so the quantile is
//! not taken on the values that defined the ranks): the `k`-th smallest of
//! `n` with `k = n - floor(n * fpr)`, so at most `floor(n * fpr)`
//! calibration normals lie above it.
//!
//! **Metrics**: ROC AUC by the Mann–Whitney statistic with mid-ranks for
//! ties (Hanley & McNeil 1982, Radiology 143, 29), precision in the top `k`
//! (ties at the cut counted by their expected share) and recall per class
//! at a threshold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Calibration inputs that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("calibration: {0}")]
pub struct CalibrateError(pub String);

/// The empirical distribution of one score on reference normal spectra.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Distinct reference values, ascending.
    values: Vec<f64>,
    /// Mid-rank CDF at each distinct value.
    cdf: Vec<f64>,
    /// Scale of the tails beyond the reference range.
    tail_scale: f64,
}

impl Reference {
    /// The distribution of `values` (at least one, all finite).
    pub fn fit(values: &[f64]) -> Result<Self, CalibrateError> {
        if values.is_empty() {
            return Err(CalibrateError("no reference values".into()));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(CalibrateError("non-finite reference value".into()));
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let (mut distinct, mut cdf) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < sorted.len() {
            let j = sorted[i..].iter().take_while(|&&v| v == sorted[i]).count();
            distinct.push(sorted[i]);
            cdf.push((i as f64 + j as f64 / 2.0) / n);
            i += j;
        }
        let range = sorted[sorted.len() - 1] - sorted[0];
        Ok(Self {
            values: distinct,
            cdf,
            tail_scale: if range > 0.0 { range } else { 1.0 },
        })
    }

    /// The rank of `x` in `(0, 1)` (see the module docs); increasing in `x`,
    /// `+inf` gives 1, `-inf` gives 0 and NaN gives NaN.
    pub fn rank(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        let (v, p, s) = (&self.values, &self.cdf, self.tail_scale);
        let last = v.len() - 1;
        if x > v[last] {
            return 1.0 - (1.0 - p[last]) * s / (s + (x - v[last]));
        }
        if x < v[0] {
            return p[0] * s / (s + (v[0] - x));
        }
        // v[j] <= x < v[j + 1], or x == v[last].
        let j = v.partition_point(|&r| r <= x) - 1;
        if j == last {
            return p[last];
        }
        p[j] + (p[j + 1] - p[j]) * (x - v[j]) / (v[j + 1] - v[j])
    }
}

/// The fitted combination and threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Reference distribution of the reduced chi-square.
    pub chi2: Reference,
    /// Reference distribution of the Isolation Forest score.
    pub iforest: Reference,
    /// Anomalous means `score > threshold`.
    pub threshold: f64,
    /// The false-positive rate asked for.
    pub target_fpr: f64,
    /// The fraction of calibration normals above the threshold
    /// (at most `target_fpr`).
    pub calibration_fpr: f64,
    /// Reference distribution of the local statistic; when present the
    /// score is the maximum of the chi-square and local ranks.
    #[serde(default)]
    pub local: Option<Reference>,
    /// The noise model the chi-square and the local statistic were
    /// computed under (scoring must use the same).
    #[serde(default)]
    pub noise: crate::score::NoiseModel,
    /// Spectra left out as gross outliers: of the reference set, of the
    /// calibration set.
    #[serde(default)]
    pub trimmed: Option<[usize; 2]>,
    /// The fence they were left out by.
    #[serde(default)]
    pub fence: Option<OutlierFence>,
    /// Reference distribution of the broad statistic; present in the
    /// combination by Fisher's method ([`Calibration::fit_fisher`]).
    #[serde(default)]
    pub broad: Option<Reference>,
    /// Reference distribution of Fisher's sum over the reference set
    /// ([`Calibration::fit_fisher`]): ANOMALY_SCORE is the sum's rank in it.
    #[serde(default)]
    pub combined: Option<Reference>,
}

/// The per-spectrum statistics of one held-out set, one value per spectrum
/// in each slice.
#[derive(Debug, Clone, Copy)]
pub struct Channels<'a> {
    /// Reduced chi-square of the reconstruction.
    pub chi2: &'a [f64],
    /// Local scan statistic.
    pub local: &'a [f64],
    /// Broad statistic.
    pub broad: &'a [f64],
    /// Isolation Forest score of the latent mean.
    pub iforest: &'a [f64],
}

impl Channels<'_> {
    fn check(&self) -> Result<usize, CalibrateError> {
        let n = self.chi2.len();
        if self.local.len() != n || self.broad.len() != n || self.iforest.len() != n {
            return Err(CalibrateError(
                "one chi-square, local, broad and forest score per spectrum".into(),
            ));
        }
        Ok(n)
    }
}

/// Fisher's combination of upper-tail ranks: `-sum ln(1 - rank)`.
fn fisher_sum(ranks: &[f64]) -> f64 {
    ranks.iter().map(|r| -(1.0 - r).ln()).sum()
}

/// A robust fence on the log chi-square of the held-out sets: a spectrum
/// is a gross outlier when its ln chi2 lies more than [`FENCE_K`] robust
/// standard deviations (1.4826 MAD) above the reference median. Only the
/// chi-square: the local statistic of normal quasars has a heavy tail of
/// its own (a 5 MAD fence on it removed 6 % of the held-out spectra on the
/// benchmark, four times its rarities, and the threshold then let 5.7 % of
/// unseen normals through).
///
/// The calibration by Fisher's method ([`Calibration::fit_fisher`]) fences
/// the local and broad statistics too, on their logarithms: there the
/// normals' tails are short enough (on the benchmark's 20,000 quasars,
/// 5 robust sigma on ln of the local statistic left out 0.16 % of the
/// normals and 124 of the 300 rarities; on ln of the broad statistic none
/// of the normals and 53 rarities; the raw local statistic's fence had
/// left out 0.55 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierFence {
    /// Fence on ln(chi2).
    pub log_chi2_max: f64,
    /// Fence on ln(local statistic), when fenced.
    #[serde(default)]
    pub log_local_max: Option<f64>,
    /// Fence on ln(broad statistic), when fenced.
    #[serde(default)]
    pub log_broad_max: Option<f64>,
}

/// Fence width in robust standard deviations. On an unseen 10,000-quasar
/// benchmark set, 31 of its 150 rarities and none of its 9,850 normals lie
/// beyond 5 on ln chi2.
pub const FENCE_K: f64 = 5.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn upper_fence(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    let m = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev) * 1.4826;
    if mad > 0.0 {
        m + FENCE_K * mad
    } else {
        f64::INFINITY
    }
}

impl OutlierFence {
    /// The fence of the reference chi-squares.
    pub fn fit(chi2: &[f64]) -> Self {
        OutlierFence {
            log_chi2_max: upper_fence(chi2.iter().map(|c| c.ln())),
            log_local_max: None,
            log_broad_max: None,
        }
    }

    /// The fence of the reference chi-squares, local and broad statistics
    /// (each on its logarithm; values `<= 0` sit at the bottom and never
    /// cross a fence).
    pub fn fit_all(chi2: &[f64], local: &[f64], broad: &[f64]) -> Self {
        let logs =
            |v: &[f64]| -> Vec<f64> { v.iter().filter(|&&x| x > 0.0).map(|x| x.ln()).collect() };
        OutlierFence {
            log_chi2_max: upper_fence(chi2.iter().map(|c| c.ln())),
            log_local_max: Some(upper_fence(logs(local).into_iter())),
            log_broad_max: Some(upper_fence(logs(broad).into_iter())),
        }
    }

    /// Whether a spectrum is beyond the fence.
    pub fn out(&self, chi2: f64) -> bool {
        chi2.ln() > self.log_chi2_max
    }

    /// Whether a spectrum is beyond any of the fences it has.
    pub fn out_any(&self, chi2: f64, local: f64, broad: f64) -> bool {
        let beyond = |x: f64, fence: Option<f64>| fence.is_some_and(|f| x > 0.0 && x.ln() > f);
        self.out(chi2) || beyond(local, self.log_local_max) || beyond(broad, self.log_broad_max)
    }
}

impl Calibration {
    /// Fits the ranks on the reference normals (`ref_chi2`, `ref_iforest`,
    /// one pair per spectrum) and the threshold on the disjoint calibration
    /// normals (`cal_chi2`, `cal_iforest`) at `target_fpr` (e.g. 0.01).
    pub fn fit(
        ref_chi2: &[f64],
        ref_iforest: &[f64],
        cal_chi2: &[f64],
        cal_iforest: &[f64],
        target_fpr: f64,
    ) -> Result<Self, CalibrateError> {
        if ref_chi2.len() != ref_iforest.len() || cal_chi2.len() != cal_iforest.len() {
            return Err(CalibrateError(
                "one chi-square and one forest score per spectrum".into(),
            ));
        }
        let mut c = Self {
            chi2: Reference::fit(ref_chi2)?,
            iforest: Reference::fit(ref_iforest)?,
            threshold: f64::NAN,
            target_fpr,
            calibration_fpr: f64::NAN,
            local: None,
            noise: crate::score::NoiseModel::default(),
            trimmed: None,
            fence: None,
            broad: None,
            combined: None,
        };
        let cal = c.score_all(cal_chi2, cal_iforest);
        c.threshold = threshold_at_fpr(&cal, target_fpr)?;
        c.calibration_fpr =
            cal.iter().filter(|&&s| s > c.threshold).count() as f64 / cal.len() as f64;
        Ok(c)
    }

    /// Fits a calibration with the local channel (module docs): ranks on
    /// the reference normals, threshold on the calibration normals, one
    /// chi-square, local statistic and forest score per spectrum, computed
    /// under `noise`.
    pub fn fit_local(
        reference: (&[f64], &[f64], &[f64]),
        calibration: (&[f64], &[f64], &[f64]),
        target_fpr: f64,
        noise: crate::score::NoiseModel,
    ) -> Result<Self, CalibrateError> {
        let (rc, rl, ri) = reference;
        let (cc, cl, ci) = calibration;
        if rc.len() != rl.len()
            || rc.len() != ri.len()
            || cc.len() != cl.len()
            || cc.len() != ci.len()
        {
            return Err(CalibrateError(
                "one chi-square, local statistic and forest score per spectrum".into(),
            ));
        }
        // Gross outliers out of both held-out sets (module docs: trimming).
        let fence = OutlierFence::fit(rc);
        let keep_r: Vec<usize> = (0..rc.len()).filter(|&i| !fence.out(rc[i])).collect();
        let keep_c: Vec<usize> = (0..cc.len()).filter(|&i| !fence.out(cc[i])).collect();
        let pick = |v: &[f64], k: &[usize]| -> Vec<f64> { k.iter().map(|&i| v[i]).collect() };
        let mut c = Self {
            chi2: Reference::fit(&pick(rc, &keep_r))?,
            iforest: Reference::fit(&pick(ri, &keep_r))?,
            threshold: f64::NAN,
            target_fpr,
            calibration_fpr: f64::NAN,
            local: Some(Reference::fit(&pick(rl, &keep_r))?),
            noise,
            trimmed: Some([rc.len() - keep_r.len(), cc.len() - keep_c.len()]),
            fence: Some(fence),
            broad: None,
            combined: None,
        };
        let cal: Vec<f64> = keep_c
            .iter()
            .map(|&i| c.score_local(cc[i], ci[i], cl[i]))
            .collect();
        c.threshold = threshold_at_fpr(&cal, target_fpr)?;
        c.calibration_fpr =
            cal.iter().filter(|&&s| s > c.threshold).count() as f64 / cal.len() as f64;
        Ok(c)
    }

    /// Fits the combination by Fisher's method (module docs) over the
    /// chi-square, local and broad channels: each channel's ranks on the
    /// reference set, Fisher's sum of the reference spectra as the scale
    /// of ANOMALY_SCORE, the threshold on the calibration set at
    /// `target_fpr`; gross outliers out of both sets first, as in
    /// [`Self::fit_local`]. The forest's ranks are fitted for ISO_SCORE's
    /// sake but do not enter the score.
    pub fn fit_fisher(
        reference: Channels<'_>,
        calibration: Channels<'_>,
        target_fpr: f64,
        noise: crate::score::NoiseModel,
    ) -> Result<Self, CalibrateError> {
        let n_ref = reference.check()?;
        let n_cal = calibration.check()?;
        let fence = OutlierFence::fit_all(reference.chi2, reference.local, reference.broad);
        let keep = |c: &Channels<'_>| -> Vec<usize> {
            (0..c.chi2.len())
                .filter(|&i| !fence.out_any(c.chi2[i], c.local[i], c.broad[i]))
                .collect()
        };
        let (keep_r, keep_c) = (keep(&reference), keep(&calibration));
        let pick = |v: &[f64], k: &[usize]| -> Vec<f64> { k.iter().map(|&i| v[i]).collect() };
        let mut c = Self {
            chi2: Reference::fit(&pick(reference.chi2, &keep_r))?,
            iforest: Reference::fit(&pick(reference.iforest, &keep_r))?,
            threshold: f64::NAN,
            target_fpr,
            calibration_fpr: f64::NAN,
            local: Some(Reference::fit(&pick(reference.local, &keep_r))?),
            noise,
            trimmed: Some([n_ref - keep_r.len(), n_cal - keep_c.len()]),
            fence: Some(fence),
            broad: Some(Reference::fit(&pick(reference.broad, &keep_r))?),
            combined: None,
        };
        let sums = |ch: &Channels<'_>, k: &[usize]| -> Vec<f64> {
            k.iter()
                .map(|&i| c.fisher(ch.chi2[i], ch.local[i], ch.broad[i]))
                .collect()
        };
        let ref_sums = sums(&reference, &keep_r);
        let cal_sums = sums(&calibration, &keep_c);
        let combined = Reference::fit(&ref_sums)?;
        let cal: Vec<f64> = cal_sums.iter().map(|&x| combined.rank(x)).collect();
        c.combined = Some(combined);
        c.threshold = threshold_at_fpr(&cal, target_fpr)?;
        c.calibration_fpr =
            cal.iter().filter(|&&s| s > c.threshold).count() as f64 / cal.len() as f64;
        Ok(c)
    }

    /// Fisher's sum of one spectrum's chi-square, local and broad ranks
    /// (NaN for a calibration without the broad channel).
    fn fisher(&self, chi2: f64, local: f64, broad: f64) -> f64 {
        match (&self.local, &self.broad) {
            (Some(l), Some(b)) => fisher_sum(&[self.chi2.rank(chi2), l.rank(local), b.rank(broad)]),
            _ => f64::NAN,
        }
    }

    /// ANOMALY_SCORE of one spectrum from all its statistics: the rank of
    /// Fisher's sum for a calibration fitted by [`Self::fit_fisher`] (NaN
    /// when `broad` is `None` there: the noise model that calibration
    /// carries always yields it), else [`Self::score_local`].
    pub fn score_channels(&self, chi2: f64, iforest: f64, local: f64, broad: Option<f64>) -> f64 {
        match &self.combined {
            Some(comb) => broad.map_or(f64::NAN, |b| comb.rank(self.fisher(chi2, local, b))),
            None => self.score_local(chi2, iforest, local),
        }
    }

    /// ANOMALY_SCORE of one spectrum: the larger of its two ranks.
    pub fn score(&self, chi2: f64, iforest: f64) -> f64 {
        self.chi2.rank(chi2).max(self.iforest.rank(iforest))
    }

    /// ANOMALY_SCORE of one spectrum with its local statistic: the larger of
    /// the chi-square and local ranks when the calibration has the local
    /// channel, else [`Self::score`].
    pub fn score_local(&self, chi2: f64, iforest: f64, local: f64) -> f64 {
        match &self.local {
            Some(l) => self.chi2.rank(chi2).max(l.rank(local)),
            None => self.score(chi2, iforest),
        }
    }

    /// [`Self::score`] of each pair.
    pub fn score_all(&self, chi2: &[f64], iforest: &[f64]) -> Vec<f64> {
        assert_eq!(chi2.len(), iforest.len(), "one pair per spectrum");
        chi2.iter()
            .zip(iforest)
            .map(|(&c, &f)| self.score(c, f))
            .collect()
    }

    /// Whether a score is above the threshold.
    pub fn is_anomalous(&self, score: f64) -> bool {
        score > self.threshold
    }
}

/// The threshold holding the false-positive rate `fpr` (in `[0, 1)`) on the
/// scores of normal spectra: the `k`-th smallest with
/// `k = n - floor(n * fpr)`; at most `floor(n * fpr)` of them are above it.
pub fn threshold_at_fpr(normal_scores: &[f64], fpr: f64) -> Result<f64, CalibrateError> {
    if normal_scores.is_empty() {
        return Err(CalibrateError("no calibration scores".into()));
    }
    if !(0.0..1.0).contains(&fpr) {
        return Err(CalibrateError(format!(
            "false-positive rate {fpr} is not in [0, 1)"
        )));
    }
    if normal_scores.iter().any(|s| s.is_nan()) {
        return Err(CalibrateError("NaN calibration score".into()));
    }
    let mut s = normal_scores.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let k = n - (n as f64 * fpr).floor() as usize;
    Ok(s[k - 1])
}

/// Area under the ROC curve of `scores` (higher = more anomalous) for the
/// labels `positive`: the Mann–Whitney U over `n_pos * n_neg`, ties counted
/// one half. `None` without both a positive and a negative.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "one label per score");
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, mid-) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let j = i + order[i..]
            .iter()
            .take_while(|&&k| scores[k].total_cmp(&scores[order[i]]).is_eq())
            .count();
        let mid = (i + 1 + j) as f64 / 2.0;
        rank_sum += mid * order[i..j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Fraction of positives among the `k` highest scores. Scores tied with the
/// `k`-th count by their expected share (as if ties were ordered at random).
/// `None` for `k = 0` or `k > n`.
pub fn precision_at_k(scores: &[f64], positive: &[bool], k: usize) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "one label per score");
    if k == 0 || k > scores.len() {
        return None;
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let cut = sorted[k - 1];
    let (mut n_above, mut pos_above, mut n_tie, mut pos_tie) = (0usize, 0usize, 0usize, 0usize);
    for (&s, &p) in scores.iter().zip(positive) {
        match s.total_cmp(&cut) {
            std::cmp::Ordering::Greater => {
                n_above += 1;
                pos_above += usize::from(p);
            }
            std::cmp::Ordering::Equal => {
                n_tie += 1;
                pos_tie += usize::from(p);
            }
            std::cmp::Ordering::Less => {}
        }
    }
    let from_ties = (k - n_above) as f64 * pos_tie as f64 / n_tie as f64;
    Some((pos_above as f64 + from_ties) / k as f64)
}

/// How many of one class a threshold flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRecall<K> {
    /// The class.
    pub class: K,
    /// Spectra of the class.
    pub n: usize,
    /// Those with a score above the threshold.
    pub flagged: usize,
    /// `flagged / n` (for the normal class, its false-positive rate).
    pub recall: f64,
}

/// Recall per class at `threshold` (flagged = score above it), classes in
/// ascending order.
pub fn recall_by_class<K: Ord + Clone>(
    scores: &[f64],
    classes: &[K],
    threshold: f64,
) -> Vec<ClassRecall<K>> {
    assert_eq!(scores.len(), classes.len(), "one class per score");
    let mut counts: BTreeMap<&K, (usize, usize)> = BTreeMap::new();
    for (&s, c) in scores.iter().zip(classes) {
        let e = counts.entry(c).or_default();
        e.0 += 1;
        e.1 += usize::from(s > threshold);
    }
    counts
        .into_iter()
        .map(|(c, (n, flagged))| ClassRecall {
            class: c.clone(),
            n,
            flagged,
            recall: flagged as f64 / n as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_hand_made_rankings() {
        // The textbook case: pairs (pos, neg) ordered right 3 times of 4.
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&s, &y), Some(0.75));
        // Perfect and reversed.
        assert_eq!(roc_auc(&[1.0, 2.0, 3.0], &[false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[3.0, 2.0, 1.0], &[false, true, true]), Some(0.0));
        // Ties count one half: the positive ties one negative, is below the other.
        assert_eq!(roc_auc(&[1.0, 1.0, 2.0], &[true, false, false]), Some(0.25));
        // All tied: 0.5.
        assert_eq!(roc_auc(&[5.0; 4], &[true, false, true, false]), Some(0.5));
        // 2 positives, 3 negatives, one tie across classes: U = 3 + 1.5 = 4.5 of 6.
        assert_eq!(
            roc_auc(
                &[0.9, 0.5, 0.5, 0.2, 0.7],
                &[true, true, false, false, false]
            ),
            Some(4.5 / 6.0)
        );
        assert_eq!(roc_auc(&[1.0], &[true]), None);
    }

    #[test]
    fn precision_in_the_top_k() {
        let s = [0.9, 0.8, 0.7, 0.6, 0.5];
        let y = [true, false, true, false, false];
        assert_eq!(precision_at_k(&s, &y, 1), Some(1.0));
        assert_eq!(precision_at_k(&s, &y, 2), Some(0.5));
        assert_eq!(precision_at_k(&s, &y, 3), Some(2.0 / 3.0));
        assert_eq!(precision_at_k(&s, &y, 0), None);
        assert_eq!(precision_at_k(&s, &y, 6), None);
        // A tie across the cut: top 2 of [0.9, 0.5 (pos), 0.5 (neg)] is the
        // 0.9 negative plus half a positive in expectation.
        assert_eq!(
            precision_at_k(&[0.9, 0.5, 0.5], &[false, true, false], 2),
            Some(0.25)
        );
    }

    #[test]
    fn recall_per_class_at_a_threshold() {
        let s = [0.1, 0.9, 0.95, 0.2, 0.99, 0.3];
        let c = ["normal", "bal", "bal", "bal", "lens", "normal"];
        let r = recall_by_class(&s, &c, 0.5);
        assert_eq!(
            r,
            vec![
                ClassRecall {
                    class: "bal",
                    n: 3,
                    flagged: 2,
                    recall: 2.0 / 3.0
                },
                ClassRecall {
                    class: "lens",
                    n: 1,
                    flagged: 1,
                    recall: 1.0
                },
                ClassRecall {
                    class: "normal",
                    n: 2,
                    flagged: 0,
                    recall: 0.0
                },
            ]
        );
    }

    #[test]
    fn threshold_holds_the_false_positive_rate() {
        let normals: Vec<f64> = (1..=200).map(f64::from).collect();
        // floor(200 * 0.01) = 2 above: the 198th smallest.
        assert_eq!(threshold_at_fpr(&normals, 0.01), Ok(198.0));
        assert_eq!(threshold_at_fpr(&normals, 0.0), Ok(200.0));
        assert_eq!(threshold_at_fpr(&normals, 0.5), Ok(100.0));
        // 150 normals at 1 %: floor(1.5) = 1 above.
        assert_eq!(threshold_at_fpr(&normals[..150], 0.01), Ok(149.0));
        // Ties at the quantile: fewer than floor(n fpr) may be above.
        let tied = [1.0, 2.0, 2.0, 2.0];
        assert_eq!(threshold_at_fpr(&tied, 0.25), Ok(2.0));
        assert!(threshold_at_fpr(&normals, 1.0).is_err());
        assert!(threshold_at_fpr(&[], 0.01).is_err());
    }

    #[test]
    fn ranks_are_mid_rank_cdf_with_tails() {
        let r = Reference::fit(&[3.0, 1.0, 2.0, 2.0]).unwrap();
        // Distinct 1, 2, 3 with mid-rank CDF 1/8, 1/2, 7/8.
        assert_eq!(r.rank(1.0), 0.125);
        assert_eq!(r.rank(2.0), 0.5);
        assert_eq!(r.rank(3.0), 0.875);
        assert_eq!(r.rank(2.5), 0.6875);
        // Tails with the reference range (2) as scale: halfway to 1 (or 0)
        // one range beyond the extreme.
        assert_eq!(r.rank(5.0), 0.9375);
        assert_eq!(r.rank(-1.0), 0.0625);
        assert_eq!(r.rank(f64::INFINITY), 1.0);
        assert_eq!(r.rank(f64::NEG_INFINITY), 0.0);
        assert!(r.rank(1e9) < 1.0);
        let one = Reference::fit(&[4.0]).unwrap();
        assert_eq!((one.rank(4.0), one.rank(5.0)), (0.5, 0.75));
        assert!(Reference::fit(&[]).is_err());
    }

    #[test]
    fn calibration_combines_by_max_and_holds_its_rate() {
        // Reference: chi2 1..=100, forest scores 0.30..0.399 (uncorrelated order).
        let ref_chi2: Vec<f64> = (1..=100).map(f64::from).collect();
        let ref_if: Vec<f64> = (0..100)
            .map(|i| 0.3 + f64::from((i * 37) % 100) / 1000.0)
            .collect();
        // Calibration normals drawn from the same ranges.
        let cal_chi2: Vec<f64> = (0..200)
            .map(|i| 1.0 + f64::from((i * 53) % 199) / 2.0)
            .collect();
        let cal_if: Vec<f64> = (0..200)
            .map(|i| 0.3 + f64::from((i * 71) % 199) / 2000.0)
            .collect();
        let c = Calibration::fit(&ref_chi2, &ref_if, &cal_chi2, &cal_if, 0.01).unwrap();
        assert_eq!(c.threshold, 0.99);
        assert_eq!(c.calibration_fpr, 0.01);
        // A spectrum extreme in one channel only is flagged.
        assert!(c.is_anomalous(c.score(1000.0, 0.35)));
        assert!(c.is_anomalous(c.score(50.0, 0.9)));
        assert!(!c.is_anomalous(c.score(50.0, 0.35)));
        assert_eq!(
            c.score(50.0, 0.35),
            c.chi2.rank(50.0).max(c.iforest.rank(0.35))
        );
    }

    #[test]
    fn local_calibration_trims_gross_outliers_then_holds_its_rate() {
        // 200 normals per set: chi2 around 1 (ln chi2 spread 0.1), local
        // statistic 0..4; then 4 outliers per set: two gross in chi2 (50,
        // 60), two with a large local excess only (40, 45), which stay.
        let normal_chi2 = |i: usize| (0.1 * (f64::from((i * 37 % 200) as u32) / 100.0 - 1.0)).exp();
        let normal_local = |i: usize| f64::from((i * 53 % 200) as u32) / 50.0;
        let set = |shift: usize| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
            let mut c: Vec<f64> = (0..200).map(|i| normal_chi2(i + shift)).collect();
            let mut l: Vec<f64> = (0..200).map(|i| normal_local(i + shift)).collect();
            c.extend([50.0, 60.0, 1.0, 1.0]);
            l.extend([1.0, 1.0, 40.0, 45.0]);
            let f = vec![0.4; c.len()];
            (c, l, f)
        };
        let (rc, rl, rf) = set(0);
        let (cc, cl, cf) = set(7);
        let noise = crate::score::NoiseModel::default();
        let c = Calibration::fit_local((&rc, &rl, &rf), (&cc, &cl, &cf), 0.01, noise).unwrap();
        assert_eq!(c.trimmed, Some([2, 2]));
        let fence = c.fence.clone().unwrap();
        assert!(fence.out(50.0) && !fence.out(1.0));
        // The ranks come from the 202 kept spectra: the largest normal chi2
        // now ranks at the top of the reference, not below the outliers.
        let top = (0..200).map(normal_chi2).fold(f64::MIN, f64::max);
        assert_eq!(c.chi2.rank(top), 1.0 - 0.5 / 202.0);
        // floor(202 x 0.01) = 2 of the 202 kept calibration spectra lie
        // above the threshold; the two left out are far above it.
        assert_eq!(c.calibration_fpr, 2.0 / 202.0);
        for i in 200..202 {
            assert!(
                c.is_anomalous(c.score_local(cc[i], cf[i], cl[i])),
                "outlier {i}"
            );
        }
        // The local outliers stay in the sets, ranked by the local channel.
        let l = c.local.as_ref().unwrap();
        assert_eq!(
            c.score_local(1.0, 0.4, 45.0),
            c.chi2.rank(1.0).max(l.rank(45.0))
        );
        // Without a local channel the two-channel score is the old one.
        let old = Calibration::fit(&rc, &rf, &cc, &cf, 0.01).unwrap();
        assert_eq!(old.score_local(2.0, 0.4, 99.0), old.score(2.0, 0.4));
    }

    #[test]
    fn fisher_calibration_adds_moderate_evidence_and_holds_its_rate() {
        // 400 normals per set; the three channels are permutations of one
        // another's order so they are not one statistic three times.
        let chan = |i: usize, k: usize, m: usize| f64::from(((i + 13 * k) * m % 400) as u32);
        let set = |shift: usize| -> [Vec<f64>; 4] {
            let mut c: Vec<f64> = (0..400)
                .map(|i| 1.0 + chan(i + shift, 0, 37) / 4000.0)
                .collect();
            let l: Vec<f64> = (0..400).map(|i| chan(i + shift, 1, 53) / 100.0).collect();
            let b: Vec<f64> = (0..400).map(|i| chan(i + shift, 2, 71) / 40.0).collect();
            // One gross outlier in the chi-square, left out by the fence.
            c[5] = 80.0;
            [c, l, b, vec![0.4; 400]]
        };
        let (r, k) = (set(0), set(11));
        fn channels(v: &[Vec<f64>; 4]) -> Channels<'_> {
            Channels {
                chi2: &v[0],
                local: &v[1],
                broad: &v[2],
                iforest: &v[3],
            }
        }
        let noise = crate::score::NoiseModel::default();
        let c = Calibration::fit_fisher(channels(&r), channels(&k), 0.01, noise).unwrap();
        assert_eq!(c.trimmed, Some([1, 1]));
        // floor(399 x 0.01) = 3 of the 399 kept calibration spectra lie
        // above the threshold.
        assert_eq!(c.calibration_fpr, 3.0 / 399.0);
        // ANOMALY_SCORE is the rank of Fisher's sum among the reference's.
        let (lr, br) = (c.local.clone().unwrap(), c.broad.clone().unwrap());
        let sum =
            -(1.0 - c.chi2.rank(1.05)).ln() - (1.0 - lr.rank(2.0)).ln() - (1.0 - br.rank(5.0)).ln();
        assert_eq!(
            c.score_channels(1.05, 0.4, 2.0, Some(5.0)),
            c.combined.as_ref().unwrap().rank(sum)
        );
        // Moderate in all three (each at the reference's 99th percentile)
        // outranks extreme in one only (99.5th, the others at the median).
        let q = |rf: &Reference, p: f64, lo: f64, hi: f64| -> f64 {
            let (mut a, mut b) = (lo, hi);
            for _ in 0..100 {
                let m = 0.5 * (a + b);
                if rf.rank(m) < p {
                    a = m;
                } else {
                    b = m;
                }
            }
            0.5 * (a + b)
        };
        let (c99, l99, b99) = (
            q(&c.chi2, 0.99, 0.0, 2.0),
            q(&lr, 0.99, 0.0, 4.0),
            q(&br, 0.99, 0.0, 10.0),
        );
        let (c50, l50) = (q(&c.chi2, 0.5, 0.0, 2.0), q(&lr, 0.5, 0.0, 4.0));
        let b995 = q(&br, 0.995, 0.0, 10.0);
        let all_three = c.score_channels(c99, 0.4, l99, Some(b99));
        let one = c.score_channels(c50, 0.4, l50, Some(b995));
        assert!(c.is_anomalous(all_three), "{all_three} vs {}", c.threshold);
        assert!(!c.is_anomalous(one), "{one} vs {}", c.threshold);
        // The card keeps every reference: the same scores after JSON.
        let back: Calibration = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        // A card fitted before the broad channel scores as it did.
        let mut old = c.clone();
        old.broad = None;
        old.combined = None;
        assert_eq!(
            old.score_channels(1.0, 0.4, 3.0, Some(9.0)),
            old.score_local(1.0, 0.4, 3.0)
        );
        // Unequal lengths are refused.
        let short = Channels {
            broad: &r[2][..10],
            ..channels(&r)
        };
        assert!(Calibration::fit_fisher(
            short,
            channels(&k),
            0.01,
            crate::score::NoiseModel::default()
        )
        .is_err());
    }
}
