//! Figures to files: SVG as is, PNG rendered by resvg (text with the
//! system's fonts: on a machine without any font installed the labels are
//! left out, the drawing is not). The spectrum plot itself, the XML escape
//! and the axis ticks live in `astrolab_spectra::plot`, shared with the
//! server; pipelines write their figures through [`write_plot`].

pub use astrolab_spectra::plot::{escape, nice_ticks, spectrum_svg, SpectrumPlot};

/// Writes the plot to `path`: SVG for `.svg`, PNG (rendered at twice the
/// SVG's size) for `.png`.
pub fn write_plot(svg: &str, path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
    {
        Some(e) if e == "svg" => crate::output::write_file(path, svg.as_bytes()),
        Some(e) if e == "png" => {
            let mut opt = resvg::usvg::Options::default();
            let db = opt.fontdb_mut();
            db.load_system_fonts();
            // The plot asks for the generic "sans-serif": map it to a sans
            // face the machine has (any face at all as a last resort).
            let family = db
                .faces()
                .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
                .find(|n| n.contains("Sans") && !n.contains("Mono"))
                .or_else(|| {
                    db.faces()
                        .next()
                        .and_then(|f| f.families.first().map(|(n, _)| n.clone()))
                });
            if let Some(family) = family {
                db.set_sans_serif_family(family);
            }
            let tree = resvg::usvg::Tree::from_str(svg, &opt).context("rendering the plot")?;
            let size = tree.size().to_int_size();
            let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width() * 2, size.height() * 2)
                .context("allocating the PNG image")?;
            resvg::render(
                &tree,
                resvg::tiny_skia::Transform::from_scale(2.0, 2.0),
                &mut pixmap.as_mut(),
            );
            pixmap
                .save_png(path)
                .with_context(|| format!("writing {}", path.display()))
        }
        _ => Err(crate::error::UsageError(format!(
            "--plot {}: name the file .svg or .png",
            path.display()
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_and_png() {
        let wl: Vec<f64> = (0..1000).map(|i| 3600.0 + 0.8 * i as f64).collect();
        let flux: Vec<f32> = (0..1000).map(|i| 1.0 + (i as f32 / 100.0).sin()).collect();
        let ivar = vec![4.0f32; 1000];
        let mask = vec![0u32; 1000];
        let svg = spectrum_svg(&SpectrumPlot {
            title: "TARGETID 1".into(),
            wavelength: &wl,
            flux: &flux,
            ivar: &ivar,
            mask: &mask,
            z: Some(0.0),
            rest_frame: false,
        });
        // The same plot as PNG: a real image of twice the size.
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("p.png");
        write_plot(&svg, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(width, 2000);
        write_plot(&svg, &dir.path().join("p.svg")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("p.svg")).unwrap(),
            svg
        );
        assert!(write_plot(&svg, &dir.path().join("p.gif")).is_err());
    }
}
