//! Errors of a pipeline run.

use crate::params::ParamError;

/// An error in what the user asked for (exit code 2 at the CLI, 400 at the
/// server), as opposed to a failure while doing it. Pipelines return it
/// inside an `anyhow::Error`; adapters find it in the chain.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A parameter does not fit the pipeline's declaration.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The store could not be opened or refused the work.
    #[error("{0}: {1}")]
    Store(String, Box<astrolab_store::StoreError>),
    /// Cancellation was asked for; the run stopped between units of work.
    #[error("cancelled")]
    Cancelled,
    /// The executor could not start or follow the run.
    #[error("executor: {0}")]
    Executor(String),
    /// The run failed (the chain says where: file, HDU, column, row).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl PipelineError {
    /// Whether the error is in what the user asked for (bad parameters, a
    /// missing input, a request the store calls bad) rather than in doing it.
    pub fn is_usage(&self) -> bool {
        match self {
            PipelineError::Params(_) => true,
            PipelineError::Store(_, e) => {
                matches!(**e, astrolab_store::StoreError::BadRequest { .. })
            }
            PipelineError::Failed(e) => e.chain().any(|c| {
                c.downcast_ref::<UsageError>().is_some()
                    || matches!(
                        c.downcast_ref::<astrolab_store::StoreError>(),
                        Some(astrolab_store::StoreError::BadRequest { .. })
                    )
            }),
            PipelineError::Cancelled | PipelineError::Executor(_) => false,
        }
    }
}
