//! The backup key: from the environment only, never from a file of
//! settings, a flag (visible in `ps`) or a log.

use anyhow::{bail, Context, Result};

/// The environment variable holding the key itself.
pub const KEY_ENV: &str = "ASTROLAB_BACKUP_KEY";
/// The environment variable naming a file that holds the key.
pub const KEY_FILE_ENV: &str = "ASTROLAB_BACKUP_KEY_FILE";
/// Shorter keys are refused: the key is all that protects the backups.
pub const MIN_KEY_CHARS: usize = 16;

/// A backup repository's key (restic's password). Its `Debug` hides it.
#[derive(Clone)]
pub struct BackupKey(String);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(<hidden>)")
    }
}

impl BackupKey {
    /// The key from `ASTROLAB_BACKUP_KEY`, else from the file named by
    /// `ASTROLAB_BACKUP_KEY_FILE` (one line; a Kubernetes Secret mounted as
    /// a file, a systemd credential).
    pub fn from_env() -> Result<BackupKey> {
        if let Some(k) = std::env::var_os(KEY_ENV).filter(|k| !k.is_empty()) {
            let k = k
                .into_string()
                .map_err(|_| anyhow::anyhow!("{KEY_ENV} is not UTF-8"))?;
            return BackupKey::new(k, KEY_ENV);
        }
        if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|k| !k.is_empty()) {
            let text = std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "{KEY_FILE_ENV}: reading {}",
                    std::path::Path::new(&p).display()
                )
            })?;
            return BackupKey::new(
                text.trim_end_matches(['\n', '\r']).to_string(),
                KEY_FILE_ENV,
            );
        }
        bail!(
            "no backup key: set {KEY_ENV} (the key) or {KEY_FILE_ENV} (a file holding it); backups are encrypted with it and cannot be read without it, so keep a copy somewhere safe (not beside the backups)"
        )
    }

    /// A key given directly (tests, the Python package).
    pub fn new(key: String, source: &str) -> Result<BackupKey> {
        if key.chars().count() < MIN_KEY_CHARS {
            bail!("{source}: the backup key has fewer than {MIN_KEY_CHARS} characters; use a long random one (e.g. `openssl rand -base64 32`)");
        }
        Ok(BackupKey(key))
    }

    /// The key, for the engine's environment only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}
