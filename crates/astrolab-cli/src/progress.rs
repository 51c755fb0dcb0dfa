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
