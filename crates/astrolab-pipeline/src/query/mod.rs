//! Sky queries on the store: cone search (the `query-cone` pipeline),
//! crossmatch and read-only SQL. Results go to the file `--output` names,
//! or into the run's log (the CLI prints it on stdout).

pub mod cone;
pub mod sql;
pub mod xmatch;

pub use cone::{Cone, ConeOutput};
pub use sql::{Sql, SqlArgs};
pub use xmatch::{DirectionArg, Xmatch, XmatchArgs};

use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::units::parse_angle_deg;

/// A radius flag in degrees; a bad one is the user's error, named by its
/// flag.
fn angle(s: &str, flag: &str) -> anyhow::Result<f64> {
    parse_angle_deg(s).map_err(|e| UsageError(format!("{flag}: {e}")).into())
}

/// What a crossmatch or SQL query gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryOutput {
    /// Rows of the result.
    pub rows: usize,
    /// The file written, when `--output` named one.
    pub output: Option<std::path::PathBuf>,
}
