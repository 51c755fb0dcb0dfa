//! Reconstruction scores of a trained VAE ([`crate::model`]).
//!
//! Per spectrum: the latent posterior mean `mu` (Kingma & Welling 2014,
//! the input of the Isolation Forest, [`crate::iforest`]) and the reduced
//! chi-square of the reconstruction of that mean,
//! `chi2_red = sum_j ivar_j (f_j - r_j)^2 / n_obs` over the observed pixels
//! only ([`crate::model::observed`]). A spectrum without any observed pixel
//! is *unscorable*: it gets no chi-square and no latent vector, never a
//! made-up score.

use burn::tensor::backend::Backend;

use crate::dataset::Dataset;
use crate::model::{observed, Batch, Vae};

/// The scores of a data set, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Dimension of the latent vectors.
    pub latent_dim: usize,
    /// Reduced chi-square per input row; `None` for an unscorable row.
    pub chi2_red: Vec<Option<f64>>,
    /// Observed pixels per input row.
    pub n_obs: Vec<usize>,
    /// Input row of each scorable spectrum, ascending.
    pub scorable: Vec<usize>,
    /// Latent means of the scorable spectra, row-major:
    /// `latent_mean[k * latent_dim..(k + 1) * latent_dim]` is row `scorable[k]`'s.
    pub latent_mean: Vec<f32>,
}

impl Scores {
    /// The chi-squares of the scorable rows, in the order of [`Self::scorable`].
    pub fn scorable_chi2(&self) -> Vec<f64> {
        self.scorable
            .iter()
            .map(|&i| self.chi2_red[i].expect("scorable rows have a chi-square"))
            .collect()
    }
}

/// Scoring was asked of data the model cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot score: {0}")]
pub struct ScoreError(pub String);

/// Scores `data` with `model`, `batch_size` spectra at a time.
pub fn score<B: Backend>(
    model: &Vae<B>,
    data: &Dataset,
    batch_size: usize,
    device: &B::Device,
) -> Result<Scores, ScoreError> {
    let len = model.config().len;
    if data.len != len {
        return Err(ScoreError(format!(
            "the spectra have {} pixels but the model expects {len}",
            data.len
        )));
    }
    if batch_size == 0 {
        return Err(ScoreError("batch_size must be at least 1".into()));
    }
    let latent_dim = model.config().latent_dim;
    let n_obs: Vec<usize> = (0..data.n())
        .map(|i| {
            let (f, v) = data.row(i);
            f.iter().zip(v).filter(|(&f, &v)| observed(f, v)).count()
        })
        .collect();
    let scorable: Vec<usize> = (0..data.n()).filter(|&i| n_obs[i] > 0).collect();
    let mut chi2_red = vec![None; data.n()];
    let mut latent_mean = Vec::with_capacity(scorable.len() * latent_dim);
    for rows in scorable.chunks(batch_size) {
        let (mu, recon) = encode_decode(model, data, rows, device);
        latent_mean.extend(mu);
        for (b, &row) in rows.iter().enumerate() {
            let (f, v) = data.row(row);
            let r = &recon[b * len..(b + 1) * len];
            let chi2: f64 = (0..len)
                .filter(|&j| observed(f[j], v[j]))
                .map(|j| f64::from(v[j]) * (f64::from(f[j]) - f64::from(r[j])).powi(2))
                .sum();
            chi2_red[row] = Some(chi2 / n_obs[row] as f64);
        }
    }
    Ok(Scores {
        latent_dim,
        chi2_red,
        n_obs,
        scorable,
        latent_mean,
    })
}

/// The latent means of `rows` of `data` and the decoded spectra of those
/// means, row-major (`rows.len() * latent_dim` and `rows.len() * len`
/// values): what [`score`] measures, and what a page draws beside the
/// spectrum.
pub fn encode_decode<B: Backend>(
    model: &Vae<B>,
    data: &Dataset,
    rows: &[usize],
    device: &B::Device,
) -> (Vec<f32>, Vec<f32>) {
    let batch = Batch::<B>::from_rows(data, rows, device);
    let (mu, _) = model.encode(batch.flux, batch.mask);
    let recon: Vec<f32> = model
        .decode(mu.clone())
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 data");
    let mu: Vec<f32> = mu.into_data().convert::<f32>().iter::<f32>().collect();
    (mu, recon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VaeConfig;
    use crate::CpuBackend;

    #[test]
    fn chi_square_counts_observed_pixels_only() {
        let device = Default::default();
        let cfg = VaeConfig {
            len: 8,
            latent_dim: 2,
            conv_channels: vec![2],
            kernel_size: 3,
            enc_hidden: 4,
            dec_hidden: vec![4],
        };
        let m = Vae::<CpuBackend>::new(&cfg, 5, &device).unwrap();
        let mut d = Dataset::new(8);
        let f = [1.0, 2.0, 0.5, 0.0, 1.0, 3.0, 1.0, 1.0];
        d.push(10, &f, &[1.0, 4.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0]);
        d.push(11, &[0.0; 8], &[0.0; 8]); // nothing observed
        d.push(12, &[f32::NAN; 8], &[1.0; 8]); // NaN flux counts as missing
        d.push(13, &f, &[1.0; 8]);
        let s = score(&m, &d, 3, &device).unwrap();
        assert_eq!(s.n_obs, vec![6, 0, 0, 8]);
        assert_eq!(s.scorable, vec![0, 3]);
        assert_eq!(s.chi2_red[1], None);
        assert_eq!(s.chi2_red[2], None);
        assert_eq!(s.latent_mean.len(), 4);
        // Recompute row 0 by hand from the decoded mean.
        let batch = Batch::<CpuBackend>::from_rows(&d, &[0], &device);
        let (mu, _) = m.encode(batch.flux, batch.mask);
        assert_eq!(
            mu.clone().into_data().to_vec::<f32>().unwrap(),
            s.latent_mean[..2]
        );
        let r: Vec<f32> = m.decode(mu).into_data().to_vec().unwrap();
        let v = [1.0, 4.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0];
        let chi2: f64 = (0..8)
            .filter(|&j| v[j] > 0.0)
            .map(|j| v[j] * (f64::from(f[j]) - f64::from(r[j])).powi(2))
            .sum();
        assert_eq!(s.chi2_red[0], Some(chi2 / 6.0));
        assert_eq!(s.scorable_chi2(), vec![chi2 / 6.0, s.chi2_red[3].unwrap()]);
        // Batch size does not change the scores.
        assert_eq!(score(&m, &d, 1, &device).unwrap(), s);
        assert_eq!(
            score(&m, &Dataset::new(9), 3, &device)
                .unwrap_err()
                .to_string(),
            "cannot score: the spectra have 9 pixels but the model expects 8"
        );
    }
}
