//! Progress bars on a terminal (indicatif draws nothing when stderr is not
//! a terminal, so logs and CI output stay clean).

use indicatif::{ProgressBar, ProgressStyle};

/// A counter of rows loaded with rate, for work whose total is not known
/// in advance.
pub fn rows(message: String) -> ProgressBar {
    let pb = ProgressBar::no_length();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(message);
    pb
}

/// Whether a worker runs us (`ASTROLAB_PROGRESS=lines`): progress then
/// goes to stderr as `progress: FRACTION` lines, which the worker turns
/// into the run's progress on the runs page.
pub fn lines_wanted() -> bool {
    std::env::var("ASTROLAB_PROGRESS").is_ok_and(|v| v == "lines")
}

/// Reports `done` of `total` work items as a progress line (workers only).
pub fn fraction(done: usize, total: usize) {
    if total > 0 && lines_wanted() {
        eprintln!("progress: {:.4}", done as f64 / total as f64);
    }
}
