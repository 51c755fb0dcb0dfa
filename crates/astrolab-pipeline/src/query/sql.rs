//! `query sql`: one read-only SQL statement.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::QueryOutput;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::output::emit;
use crate::params::defs::OutputArgs;
use crate::pipeline::SinglePipeline;

/// Arguments of `query sql`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct SqlArgs {
    /// The statement (SELECT or WITH ... SELECT).
    pub sql: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub out: OutputArgs,
}

/// The statement (one shard), run through the store's read-only guard.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sql;

impl SinglePipeline for Sql {
    type Params = SqlArgs;
    type Output = QueryOutput;

    fn run(&self, ctx: &Ctx, a: &SqlArgs) -> Result<QueryOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let t = store.sql_readonly(&a.sql).map_err(anyhow::Error::from)?;
        emit(ctx, &t, &a.out, "RESULT")?;
        Ok(QueryOutput {
            rows: t.rows.len(),
            output: a.out.output.clone(),
        })
    }
}
