//! Configuration: `astrolab.toml` < `ASTROLAB_*` environment < flags.
//!
//! clap already resolves environment over flags; values still unset fall
//! back to the file, then to defaults. Secrets never come from the file: a
//! database URL with a password in astrolab.toml is refused.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{GlobalArgs, LogFormat};

/// Keys of astrolab.toml.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data home.
    pub home: Option<PathBuf>,
    /// PostgreSQL URL without password.
    pub database_url: Option<String>,
    /// Log format.
    pub log_format: Option<LogFormat>,
    /// `astrolab serve` settings.
    pub server: Option<astrolab_server::ServerFileConfig>,
    /// `astrolab backup` settings.
    pub backup: Option<crate::commands::backup::BackupFileConfig>,
    /// `astrolab publish` defaults (author, affiliation, ORCID, licence).
    pub publish: Option<crate::commands::publish::PublishFileConfig>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data home.
    pub home: PathBuf,
    /// PostgreSQL URL, or None for the embedded SQLite file.
    pub database_url: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// The `[server]` table (defaults when absent).
    pub server: astrolab_server::ServerFileConfig,
    /// The `[backup]` table (empty when absent).
    pub backup: crate::commands::backup::BackupFileConfig,
    /// The `[publish]` table (empty when absent).
    pub publish: crate::commands::publish::PublishFileConfig,
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let cfg: FileConfig = toml::from_str(&text)
        .with_context(|| format!("{}: invalid configuration", path.display()))?;
    if let Some(url) = &cfg.database_url {
        if astrolab_store::redact_url(url) != *url {
            bail!(
                "{}: database_url contains a password; keep secrets out of files: use ASTROLAB_DATABASE_URL in the environment, ~/.pgpass or PGPASSWORD",
                path.display()
            );
        }
    }
    Ok(cfg)
}

/// Resolves the configuration from the three layers.
pub fn resolve(args: &GlobalArgs) -> Result<Config> {
    let file = match &args.config {
        Some(p) => read_file(p)?,
        None if Path::new("astrolab.toml").exists() => read_file(Path::new("astrolab.toml"))?,
        None => FileConfig::default(),
    };
    Ok(Config {
        home: args
            .home
            .clone()
            .or(file.home)
            .unwrap_or_else(|| PathBuf::from("astrolab-data")),
        database_url: args
            .database_url
            .clone()
            .or(file.database_url)
            .filter(|s| !s.is_empty()),
        log_format: args
            .log_format
            .or(file.log_format)
            .unwrap_or(LogFormat::Human),
        server: file.server.unwrap_or_default(),
        backup: file.backup.unwrap_or_default(),
        publish: file.publish.unwrap_or_default(),
    })
}

impl Config {
    /// The store configuration.
    pub fn store(&self) -> astrolab_store::StoreConfig {
        astrolab_store::StoreConfig {
            home: self.home.clone(),
            database_url: self.database_url.clone(),
            pg_schema: None,
        }
    }
}
