//! Helpers shared by the binary's integration tests.
// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The astrolab binary, with none of the developer's settings.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_astrolab"));
    for k in [
        "ASTROLAB_HOME",
        "ASTROLAB_DATABASE_URL",
        "ASTROLAB_CONFIG",
        "ASTROLAB_LOG_FORMAT",
    ] {
        c.env_remove(k);
    }
    c
}

/// Runs `astrolab ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run astrolab")
}

/// Stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
