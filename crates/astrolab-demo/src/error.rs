use std::path::PathBuf;

/// What can go wrong while generating or writing the synthetic sky.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A configuration value is out of range; `field` is its name in
    /// [`crate::DemoConfig`].
    #[error("invalid demo configuration: {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    /// The cosmology or a coordinate conversion refused a value.
    #[error("sky computation failed ({context}): {source}")]
    Sky {
        context: String,
        #[source]
        source: astrolab_sky::SkyError,
    },

    /// A distance or redshift could not be computed (outside the model).
    #[error("cosmology: {context}")]
    Cosmology { context: String },

    /// Writing a FITS file failed.
    #[error("cannot write {}: {source}", path.display())]
    Fits {
        path: PathBuf,
        #[source]
        source: Box<astrolab_formats::FitsError>,
    },

    /// Creating the output directory or writing a text file failed.
    #[error("cannot write {}: {source} (check that the directory is writable and has space)", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A redrock template file exists but could not be used.
    #[error("cannot use the QSO template {}: {reason} (fix or remove the file, or set spectra.templates_dir to null for the power-law model)", path.display())]
    Template { path: PathBuf, reason: String },

    /// Serialising the truth metadata failed.
    #[error("cannot serialise {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
