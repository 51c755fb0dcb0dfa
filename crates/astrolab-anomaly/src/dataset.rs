//! The hand-over between preprocessing and the model: spectra already on
//! one common rest-frame grid, flux normalised, with the inverse variance
//! of each pixel. A pixel with `ivar == 0` is missing (outside the observed
//! range, masked by the pipeline, on a bright sky line); the loss and the
//! reconstruction chi-square count only pixels with `ivar > 0`.

use serde::{Deserialize, Serialize};

/// `n` spectra of `len` pixels each, row-major (`flux[i * len + j]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Pixels per spectrum (the rest-frame grid's length).
    pub len: usize,
    /// Normalised flux; 0 where missing.
    pub flux: Vec<f32>,
    /// Inverse variance of the normalised flux; 0 = missing.
    pub ivar: Vec<f32>,
    /// One id per row (TARGETID, or the row number of a synthetic set).
    pub ids: Vec<i64>,
}

impl Dataset {
    /// An empty set of spectra with `len` pixels.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            ..Self::default()
        }
    }

    /// Number of spectra.
    pub fn n(&self) -> usize {
        self.ids.len()
    }

    /// Appends one spectrum; `flux` and `ivar` must have [`Self::len`] pixels.
    pub fn push(&mut self, id: i64, flux: &[f32], ivar: &[f32]) {
        assert_eq!(flux.len(), self.len, "flux length");
        assert_eq!(ivar.len(), self.len, "ivar length");
        self.ids.push(id);
        self.flux.extend_from_slice(flux);
        self.ivar.extend_from_slice(ivar);
    }

    /// Row `i`: its flux and inverse variance.
    pub fn row(&self, i: usize) -> (&[f32], &[f32]) {
        let r = i * self.len..(i + 1) * self.len;
        (&self.flux[r.clone()], &self.ivar[r])
    }

    /// The rows `idx` (in that order) as a new set.
    pub fn subset(&self, idx: &[usize]) -> Self {
        let mut out = Self::new(self.len);
        for &i in idx {
            let (f, v) = self.row(i);
            out.push(self.ids[i], f, v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_subsets_keep_their_pixels() {
        let mut d = Dataset::new(3);
        d.push(7, &[1.0, 2.0, 3.0], &[1.0, 0.0, 1.0]);
        d.push(9, &[4.0, 5.0, 6.0], &[0.5, 0.5, 0.5]);
        assert_eq!(d.n(), 2);
        assert_eq!(d.row(1), (&[4.0, 5.0, 6.0][..], &[0.5, 0.5, 0.5][..]));
        let s = d.subset(&[1, 0]);
        assert_eq!(s.ids, vec![9, 7]);
        assert_eq!(s.row(1).0, &[1.0, 2.0, 3.0]);
    }
}
