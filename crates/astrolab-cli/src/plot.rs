//! Figures to files: the pipelines' renderer
//! (`astrolab_pipeline::render`), re-exported for the commands not yet
//! moved into the pipeline layer.

pub use astrolab_pipeline::render::{escape, nice_ticks, spectrum_svg, write_plot, SpectrumPlot};
