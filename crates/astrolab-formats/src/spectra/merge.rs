//! Merging a coadd's arms onto one 0.8 A grid; the rule is in the module
//! docs of [`super`].

use super::coadd::{ArmData, DesiCoadd};
use super::SpectraError;

/// First wavelength of the merged grid, Angstrom (DESI's B arm starts here).
pub const MERGED_WAVE_MIN: f64 = 3600.0;
/// Pixel width of the merged grid (and of every DESI arm), Angstrom.
pub const MERGED_DWAVE: f64 = 0.8;
/// Pixels of the merged grid: 3600..=9824 A (DESI's Z arm ends at 9824 A).
pub const MERGED_NPIX: usize = 7781;
/// How far (Angstrom) an arm's wavelength may be from the lattice point it
/// is assigned to.
pub const LATTICE_TOLERANCE_A: f64 = 1e-3;
/// Merged mask bit: no arm covers this pixel (an arm is missing from the file).
pub const MASK_NODATA: u32 = 1 << 31;
/// Merged mask bit: an input flux or ivar here was NaN or infinite.
pub const MASK_BADVALUE: u32 = 1 << 30;

/// The merged grid's wavelengths, Angstrom: `3600 + 0.8 k`, `k < MERGED_NPIX`.
pub fn merged_wavelength() -> Vec<f64> {
    (0..MERGED_NPIX)
        .map(|k| MERGED_WAVE_MIN + MERGED_DWAVE * k as f64)
        .collect()
}

/// One spectrum on the merged grid; every vector is [`MERGED_NPIX`] long.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedSpectrum {
    /// 1e-17 erg/s/cm^2/A; 0 where `ivar` is 0.
    pub flux: Vec<f32>,
    pub ivar: Vec<f32>,
    /// 0 where `ivar > 0`; otherwise the inputs' OR plus [`MASK_BADVALUE`],
    /// or [`MASK_NODATA`] where no arm covers the pixel.
    pub mask: Vec<u32>,
}

impl DesiCoadd {
    /// The spectrum in FIBERMAP row `row` merged over all arms.
    pub fn merged(&self, row: usize) -> Result<MergedSpectrum, SpectraError> {
        let nspec = self.n_spectra();
        if row >= nspec {
            return Err(SpectraError::RowOutOfRange {
                path: self.path.clone(),
                row,
                nspec,
            });
        }
        let index = self.lattice_indices()?;
        Ok(merge_row(&self.arms, &index, row))
    }

    /// Every spectrum merged, in FIBERMAP order.
    pub fn merged_all(&self) -> Result<Vec<MergedSpectrum>, SpectraError> {
        let index = self.lattice_indices()?;
        Ok((0..self.n_spectra())
            .map(|row| merge_row(&self.arms, &index, row))
            .collect())
    }

    /// For each arm, the merged pixel of each of its pixels.
    fn lattice_indices(&self) -> Result<Vec<Vec<usize>>, SpectraError> {
        self.arms
            .iter()
            .map(|arm| {
                arm.wavelength
                    .iter()
                    .enumerate()
                    .map(|(pixel, &w)| {
                        let k = ((w - MERGED_WAVE_MIN) / MERGED_DWAVE).round();
                        let offset_a = (w - (MERGED_WAVE_MIN + MERGED_DWAVE * k)).abs();
                        // False for a NaN wavelength too.
                        let on_grid = offset_a <= LATTICE_TOLERANCE_A
                            && (0.0..MERGED_NPIX as f64).contains(&k);
                        if !on_grid {
                            return Err(SpectraError::OffLattice {
                                path: self.path.clone(),
                                arm: arm.name.clone(),
                                pixel,
                                wavelength_a: w,
                                offset_a,
                            });
                        }
                        Ok(k as usize)
                    })
                    .collect()
            })
            .collect()
    }
}

fn merge_row(arms: &[ArmData], index: &[Vec<usize>], row: usize) -> MergedSpectrum {
    let mut sum_w = vec![0f64; MERGED_NPIX];
    let mut sum_wf = vec![0f64; MERGED_NPIX];
    let mut or_mask = vec![0u32; MERGED_NPIX];
    let mut covered = vec![false; MERGED_NPIX];
    for (arm, idx) in arms.iter().zip(index) {
        let span = row * arm.npix..(row + 1) * arm.npix;
        let pixels = arm.flux[span.clone()]
            .iter()
            .zip(&arm.ivar[span.clone()])
            .zip(&arm.mask[span]);
        for (&k, ((&f, &iv), &m)) in idx.iter().zip(pixels) {
            covered[k] = true;
            let finite = f.is_finite() && iv.is_finite();
            or_mask[k] |= if finite { m } else { m | MASK_BADVALUE };
            if m == 0 && finite && iv > 0.0 {
                sum_w[k] += iv as f64;
                sum_wf[k] += iv as f64 * f as f64;
            }
        }
    }
    let mut out = MergedSpectrum {
        flux: vec![0.0; MERGED_NPIX],
        ivar: vec![0.0; MERGED_NPIX],
        mask: vec![0; MERGED_NPIX],
    };
    for k in 0..MERGED_NPIX {
        if !covered[k] {
            out.mask[k] = MASK_NODATA;
        } else if sum_w[k] > 0.0 {
            out.flux[k] = (sum_wf[k] / sum_w[k]) as f32;
            out.ivar[k] = sum_w[k] as f32;
        } else {
            out.mask[k] = or_mask[k];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectra::Fibermap;

    fn arm(name: &str, w0: f64, flux: &[f32], ivar: &[f32], mask: &[u32]) -> ArmData {
        ArmData {
            name: name.into(),
            wavelength: (0..flux.len()).map(|i| w0 + 0.8 * i as f64).collect(),
            flux: flux.to_vec(),
            ivar: ivar.to_vec(),
            mask: mask.to_vec(),
            npix: flux.len(),
            resolution_ndiag: None,
        }
    }

    fn coadd(arms: Vec<ArmData>) -> DesiCoadd {
        DesiCoadd {
            path: "synthetic.fits".into(),
            fibermap: Fibermap {
                targetid: vec![7],
                target_ra: vec![0.0],
                target_dec: vec![0.0],
                coadd_fiberstatus: vec![0],
            },
            arms,
            survey: None,
            program: None,
            healpix: None,
            tileid: None,
            hdu_names: vec![],
        }
    }

    #[test]
    fn overlap_is_inverse_variance_weighted_and_bad_inputs_drop_out() {
        // A covers pixels 0..=3, B covers 2..=5: overlap at 2 and 3.
        let a = arm(
            "B",
            3600.0,
            &[1.0, 2.0, 4.0, f32::NAN],
            &[1.0, 0.0, 1.0, 5.0],
            &[0, 0, 0, 0],
        );
        let b = arm(
            "R",
            3601.6,
            &[10.0, 9.0, 3.0, 1.0],
            &[3.0, 2.0, 1.0, 1.0],
            &[0, 0, 8, 0],
        );
        let m = coadd(vec![a, b]).merged(0).unwrap();
        assert_eq!(m.flux.len(), MERGED_NPIX);
        assert_eq!((m.flux[0], m.ivar[0], m.mask[0]), (1.0, 1.0, 0));
        // ivar 0, unmasked, nothing else: no information, mask stays 0.
        assert_eq!((m.flux[1], m.ivar[1], m.mask[1]), (0.0, 0.0, 0));
        // (1*4 + 3*10) / 4
        assert_eq!((m.flux[2], m.ivar[2], m.mask[2]), (8.5, 4.0, 0));
        // A's NaN drops out, B alone.
        assert_eq!((m.flux[3], m.ivar[3], m.mask[3]), (9.0, 2.0, 0));
        // B masked, nothing else: the input mask.
        assert_eq!((m.flux[4], m.ivar[4], m.mask[4]), (0.0, 0.0, 8));
        assert_eq!((m.flux[5], m.ivar[5], m.mask[5]), (1.0, 1.0, 0));
        assert_eq!((m.flux[6], m.ivar[6], m.mask[6]), (0.0, 0.0, MASK_NODATA));
        let only_nan = arm("B", 3600.0, &[f32::INFINITY], &[1.0], &[0]);
        let m = coadd(vec![only_nan]).merged(0).unwrap();
        assert_eq!((m.flux[0], m.ivar[0], m.mask[0]), (0.0, 0.0, MASK_BADVALUE));
    }

    /// The error message of `merged(row)`, without printing a whole
    /// spectrum when it unexpectedly succeeds.
    fn merge_error(c: &DesiCoadd, row: usize) -> String {
        match c.merged(row) {
            Ok(_) => panic!("merged({row}) succeeded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn off_lattice_wavelengths_and_bad_rows_are_errors() {
        let a = arm("B", 3600.3, &[1.0, 2.0], &[1.0, 1.0], &[0, 0]);
        let err = merge_error(&coadd(vec![a]), 0);
        assert!(err.contains("arm B: pixel 0"), "{err}");
        // 9824.0 is the last merged pixel; 9824.8 is past the grid.
        let a = arm("Z", 9824.0, &[1.0, 2.0], &[1.0, 1.0], &[0, 0]);
        let err = merge_error(&coadd(vec![a]), 0);
        assert!(err.contains("arm Z: pixel 1"), "{err}");
        let mut a = arm("R", 5760.0, &[1.0, 2.0], &[1.0, 1.0], &[0, 0]);
        a.wavelength[1] = f64::NAN;
        let err = merge_error(&coadd(vec![a]), 0);
        assert!(err.contains("arm R: pixel 1"), "{err}");
        let a = arm("B", 3600.0, &[1.0], &[1.0], &[0]);
        let err = merge_error(&coadd(vec![a]), 1);
        assert!(err.contains("row 1") && err.contains("1 rows"), "{err}");
    }

    #[test]
    fn the_grid_ends_at_9824() {
        let w = merged_wavelength();
        assert_eq!(w.len(), MERGED_NPIX);
        assert_eq!(w[0], 3600.0);
        assert!((w[MERGED_NPIX - 1] - 9824.0).abs() < 1e-9);
    }
}
