//! Isolation Forest (Liu, Ting & Zhou 2008, "Isolation Forest", ICDM,
//! doi:10.1109/ICDM.2008.17; and the journal version, Liu, Ting & Zhou
//! 2012, ACM TKDD 6, 3), run on the VAE's latent means.
//!
//! - Each of `n_trees` (100) isolation trees is grown on a subsample of
//!   `psi = min(subsample, n)` points (256) drawn without replacement,
//!   to the height limit `ceil(log2 psi)` (2008, Algorithm 1). A node splits
//!   on an attribute drawn uniformly among those not constant on its points
//!   (an attribute constant there cannot split; 2012 §4.1 ends a branch when
//!   all its points are equal, which is the case of no candidate left) at a
//!   value drawn uniformly between that attribute's minimum and maximum
//!   (Algorithm 2); points below the value go left.
//! - The path length of `x` in a tree is the number of edges to its leaf
//!   plus `c(size)` for the points the leaf still holds (Algorithm 3), with
//!   `c(n) = 2 H(n-1) - 2 (n-1) / n` (eq. 1), `H(i) ~ ln(i) + 0.5772156649`
//!   (Euler's constant), and `c(2) = 1`, `c(n <= 1) = 0` (2012, eq. 1; the
//!   same conventions as scikit-learn, so scores can be compared).
//! - The anomaly score is `s = 2^(-E(h(x)) / c(psi))` (eq. 2): close to 1
//!   for points isolated in few splits, about 0.5 or less for the bulk.
//!
//! Checked once against scikit-learn 1.9.1's `IsolationForest` (same
//! settings; its trees come from another RNG, so the comparison is of
//! scores averaged over 20 seeds on each side): on a 2-D standard normal
//! cloud of 500 points plus (6, 6), (3, 0) and (0, 0), the mean scores agree
//! to 0.0019 on average and 0.0088 at worst (correlation 0.9994); (6, 6)
//! scores 0.809 here and 0.806 there.
//!
//! Why a local implementation: the maintained Rust crates did not fit.
//! `extended-isolation-forest` implements the *extended* variant (Hariri
//! et al. 2021) with the dimension fixed at compile time (a const generic,
//! here the latent size is configurable) and draws from an unseeded RNG;
//! `isolation_forest` takes named feature maps per sample and is not seeded
//! either. This one is a hundred lines, seeded and deterministic: tree `t`
//! draws from ChaCha8 stream `t` of the seed, with uniform integers and
//! floats derived from the raw 64-bit words here (not from `rand`'s
//! distribution code), so the forest is a function of the seed and data
//! alone.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Euler's constant (the `0.5772156649` of Liu et al. 2008, eq. 1).
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// How to grow the forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IForestConfig {
    /// Number of trees (100 in Liu et al. 2008).
    pub n_trees: usize,
    /// Subsample size psi per tree (256 in Liu et al. 2008); the data size
    /// if smaller.
    pub subsample: usize,
    /// Seed of the subsamples and splits.
    pub seed: u64,
}

impl Default for IForestConfig {
    /// The paper's defaults: 100 trees, subsamples of 256, seed 0.
    fn default() -> Self {
        Self {
            n_trees: 100,
            subsample: 256,
            seed: 0,
        }
    }
}

/// The forest cannot be grown or asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("isolation forest: {0}")]
pub struct IForestError(pub String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    Split {
        attr: usize,
        value: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// A grown forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    dim: usize,
    psi: usize,
    /// Each tree's nodes; node 0 is the root.
    trees: Vec<Vec<Node>>,
}

/// `c(n)`, the average path length of an unsuccessful search in a binary
/// search tree of `n` points (Liu et al. 2008, eq. 1; see the module docs).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// A uniform integer in `0..n` (`n > 0`) by rejection from 64-bit words.
fn uniform_below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n + 1) % n;
    loop {
        let v = rng.next_u64();
        if v <= zone {
            return (v % n) as usize;
        }
    }
}

/// A uniform float in `[0, 1)` from the top 53 bits of a word.
fn uniform_unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl IsolationForest {
    /// Grows a forest on `n = data.len() / dim` points stored row-major.
    /// Needs at least 2 points, all values finite.
    pub fn fit(data: &[f32], dim: usize, config: &IForestConfig) -> Result<Self, IForestError> {
        let bad = |s: &str| Err(IForestError(s.to_string()));
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return bad("data length is not a multiple of the dimension");
        }
        let n = data.len() / dim;
        if n < 2 {
            return bad("needs at least 2 points");
        }
        if config.n_trees == 0 || config.subsample < 2 {
            return bad("needs at least 1 tree and subsamples of at least 2");
        }
        if data.iter().any(|v| !v.is_finite()) {
            return bad("non-finite value in the data");
        }
        let psi = config.subsample.min(n);
        let limit = (psi as f64).log2().ceil() as usize;
        let trees = (0..config.n_trees)
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(t as u64);
                // Partial Fisher-Yates: the first psi entries are the subsample.
                let mut idx: Vec<usize> = (0..n).collect();
                for i in 0..psi {
                    let j = i + uniform_below(&mut rng, n - i);
                    idx.swap(i, j);
                }
                idx.truncate(psi);
                let mut nodes = Vec::new();
                grow(data, dim, &mut idx, 0, limit, &mut rng, &mut nodes);
                nodes
            })
            .collect();
        Ok(Self { dim, psi, trees })
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The subsample size psi the trees were grown on.
    pub fn psi(&self) -> usize {
        self.psi
    }

    /// Mean path length `E(h(x))` of `x` over the trees.
    pub fn mean_path_length(&self, x: &[f32]) -> f64 {
        assert_eq!(x.len(), self.dim, "point dimension");
        let total: f64 = self
            .trees
            .iter()
            .map(|nodes| {
                let mut k = 0;
                let mut depth = 0.0;
                loop {
                    match nodes[k] {
                        Node::Split {
                            attr,
                            value,
                            left,
                            right,
                        } => {
                            k = if f64::from(x[attr]) < value {
                                left
                            } else {
                                right
                            };
                            depth += 1.0;
                        }
                        Node::Leaf { size } => return depth + average_path_length(size),
                    }
                }
            })
            .sum();
        total / self.trees.len() as f64
    }

    /// Anomaly score `2^(-E(h(x)) / c(psi))` of one point (eq. 2).
    pub fn score(&self, x: &[f32]) -> f64 {
        (-self.mean_path_length(x) / average_path_length(self.psi)).exp2()
    }

    /// Scores of `n = data.len() / dim` points stored row-major.
    pub fn score_all(&self, data: &[f32]) -> Result<Vec<f64>, IForestError> {
        if !data.len().is_multiple_of(self.dim) {
            return Err(IForestError(
                "data length is not a multiple of the dimension".into(),
            ));
        }
        Ok(data.chunks(self.dim).map(|x| self.score(x)).collect())
    }
}

/// Grows the subtree of the points `idx` at `depth`; returns its node index.
fn grow(
    data: &[f32],
    dim: usize,
    idx: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> usize {
    let me = nodes.len();
    nodes.push(Node::Leaf { size: idx.len() });
    if idx.len() <= 1 || depth >= limit {
        return me;
    }
    // Attributes that vary on these points, with their ranges.
    let ranges: Vec<(usize, f64, f64)> = (0..dim)
        .filter_map(|a| {
            let (lo, hi) = idx
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                    let v = f64::from(data[i * dim + a]);
                    (lo.min(v), hi.max(v))
                });
            (lo < hi).then_some((a, lo, hi))
        })
        .collect();
    if ranges.is_empty() {
        return me;
    }
    let (attr, lo, hi) = ranges[uniform_below(rng, ranges.len())];
    let value = lo + uniform_unit(rng) * (hi - lo);
    // Stable partition: points below the value first.
    let mut below: Vec<usize> = Vec::with_capacity(idx.len());
    let mut above: Vec<usize> = Vec::with_capacity(idx.len());
    for &i in idx.iter() {
        if f64::from(data[i * dim + attr]) < value {
            below.push(i);
        } else {
            above.push(i);
        }
    }
    let n_below = below.len();
    idx[..n_below].copy_from_slice(&below);
    idx[n_below..].copy_from_slice(&above);
    let (l, r) = idx.split_at_mut(n_below);
    let left = grow(data, dim, l, depth + 1, limit, rng, nodes);
    let right = grow(data, dim, r, depth + 1, limit, rng, nodes);
    nodes[me] = Node::Split {
        attr,
        value,
        left,
        right,
    };
    me
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn average_path_length_values() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2 (ln 2 + gamma) - 4/3 and 2 (ln 255 + gamma) - 255/128 (as
        // Python's math module evaluates them).
        assert_eq!(average_path_length(3), 1.207392357589623);
        assert_eq!(average_path_length(256), 10.244770920119917);
    }

    #[test]
    fn two_points_score_one_half() {
        // psi = 2: one split separates them, h = 1 = c(2), s = 2^-1.
        let f = IsolationForest::fit(&[0.0, 1.0], 1, &IForestConfig::default()).unwrap();
        assert_eq!(f.psi(), 2);
        assert_eq!(f.score(&[0.0]), 0.5);
        assert_eq!(f.score(&[1.0]), 0.5);
        // Identical points never split: the path is c(psi), s = 0.5 (one
        // tree, so no rounding in the mean over trees).
        let same = vec![3.0f32; 2 * 50];
        let one = IForestConfig {
            n_trees: 1,
            ..Default::default()
        };
        let f = IsolationForest::fit(&same, 2, &one).unwrap();
        assert_eq!(f.score(&[3.0, 3.0]), 0.5);
        assert_eq!(f.score(&[100.0, -7.0]), 0.5);
    }

    /// 500 points of a 2-D standard normal cloud plus one at (6, 6).
    fn cloud() -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut d: Vec<f32> = (0..1000).map(|_| StandardNormal.sample(&mut rng)).collect();
        d.extend([6.0, 6.0]);
        d
    }

    #[test]
    fn a_far_outlier_gets_the_top_score() {
        let d = cloud();
        let cfg = IForestConfig {
            seed: 1,
            ..Default::default()
        };
        let f = IsolationForest::fit(&d, 2, &cfg).unwrap();
        let s = f.score_all(&d).unwrap();
        let top = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(top, 500);
        // Exact values for this seed.
        assert_eq!(s[500], 0.8268592809064906);
        assert_eq!(f.score(&[0.0, 0.0]), 0.38605005750614485);
        // Deterministic: same seed, same forest; another seed, another one.
        assert_eq!(IsolationForest::fit(&d, 2, &cfg).unwrap(), f);
        let g = IsolationForest::fit(&d, 2, &IForestConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(g.score(&[0.0, 0.0]), f.score(&[0.0, 0.0]));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let c = IForestConfig::default();
        assert!(IsolationForest::fit(&[1.0, 2.0, 3.0], 2, &c).is_err());
        assert_eq!(
            IsolationForest::fit(&[1.0], 1, &c).unwrap_err().to_string(),
            "isolation forest: needs at least 2 points"
        );
        assert!(IsolationForest::fit(&[1.0, f32::NAN], 1, &c).is_err());
    }
}
