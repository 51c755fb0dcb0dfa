//! Figures to files: the rendering moved to `astrolab_pipeline::render`
//! (pipelines write figures); the spectrum plot itself, the XML escape and
//! the axis ticks live in `astrolab_spectra::plot`, shared with the server.

pub use astrolab_pipeline::render::write_plot;
