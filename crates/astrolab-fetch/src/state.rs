//! The state file in the destination (`.astrolab-fetch-state.json`): every
//! file that was downloaded and verified, so a rerun skips it. Written
//! atomically (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::FetchError;

/// File name of the state file inside `--dest`.
pub const STATE_FILE: &str = ".astrolab-fetch-state.json";

/// Format version of the state file.
const VERSION: u32 = 1;

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Published sha256 (hex) the file matched.
    pub sha256: String,
    pub size_bytes: u64,
    /// The verified-file callback returned Ok for it.
    #[serde(default)]
    pub processed: bool,
    /// Deleted after processing (kept as done, not fetched again).
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    version: u32,
    /// Release-relative path -> entry.
    pub files: BTreeMap<String, Entry>,
}

impl State {
    pub(crate) fn path(dest: &Path) -> PathBuf {
        dest.join(STATE_FILE)
    }

    /// Reads the state file; a missing file is an empty state.
    pub(crate) fn load(dest: &Path) -> Result<State, FetchError> {
        let path = Self::path(dest);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    version: VERSION,
                    files: BTreeMap::new(),
                })
            }
            Err(e) => return Err(FetchError::io(&path, e)),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| FetchError::State {
            path: path.clone(),
            reason: format!(
                "{e}; move it away to start over (verified files are re-checked, not re-fetched)"
            ),
        })?;
        if state.version != VERSION {
            return Err(FetchError::State {
                path,
                reason: format!("version {} (this build reads {VERSION})", state.version),
            });
        }
        Ok(state)
    }

    /// Writes the state atomically.
    pub(crate) fn save(&self, dest: &Path) -> Result<(), FetchError> {
        let path = Self::path(dest);
        let json = serde_json::to_vec_pretty(self).map_err(|e| FetchError::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        astrolab_formats::atomic::write_with(&path, |w| {
            w.write_all(&json)?;
            w.write_all(b"\n")
        })
        .map_err(|e| FetchError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::load(dir.path()).unwrap();
        assert!(s.files.is_empty());
        s.files.insert(
            "a/b.fits".into(),
            Entry {
                sha256: "00".into(),
                size_bytes: 3,
                processed: false,
                deleted: false,
            },
        );
        s.save(dir.path()).unwrap();
        let back = State::load(dir.path()).unwrap();
        assert_eq!(back.files, s.files);
        assert!(!dir.path().join(format!("{STATE_FILE}.tmp")).exists());
        fs::write(State::path(dir.path()), "{not json").unwrap();
        assert!(matches!(
            State::load(dir.path()),
            Err(FetchError::State { .. })
        ));
    }
}
