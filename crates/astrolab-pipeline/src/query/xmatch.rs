//! `query xmatch`: nearest (or every) match within a radius between two
//! tables or files.

use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use super::QueryOutput;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::output::emit;
use crate::params::defs::OutputArgs;
use crate::pipeline::SinglePipeline;

/// Direction of a nearest-match crossmatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectionArg {
    /// Each row of A gets its nearest B.
    AToB,
    /// Each row of B gets its nearest A.
    BToA,
}

/// Arguments of `query xmatch`.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct XmatchArgs {
    /// First side: a table name or a FITS/CSV file with ra/dec columns.
    pub a: String,
    /// Second side: a table name or a FITS/CSV file.
    pub b: String,
    /// Match radius with unit (1arcsec, 0.5arcmin, 0.001deg).
    #[arg(long, default_value = "1arcsec")]
    pub radius: String,
    /// Which side looks for its nearest partner.
    #[arg(long, value_enum, default_value_t = DirectionArg::AToB)]
    pub direction: DirectionArg,
    /// Return every pair within the radius instead of the nearest only
    /// (what q3c_join returns).
    #[arg(long)]
    pub all_pairs: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub out: OutputArgs,
}

/// The crossmatch (one shard: the store matches the sides as a whole).
#[derive(Debug, Default, Clone, Copy)]
pub struct Xmatch;

impl SinglePipeline for Xmatch {
    type Params = XmatchArgs;
    type Output = QueryOutput;

    fn run(&self, ctx: &Ctx, a: &XmatchArgs) -> Result<QueryOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let t = xmatch_table(&mut store, a)?;
        emit(ctx, &t, &a.out, "XMATCH")?;
        Ok(QueryOutput {
            rows: t.rows.len(),
            output: a.out.output.clone(),
        })
    }
}

/// The rows of a crossmatch (what `query xmatch` prints and the Python
/// package returns).
pub fn xmatch_table(
    store: &mut astrolab_store::Store,
    a: &XmatchArgs,
) -> Result<astrolab_store::ResultTable, PipelineError> {
    let q = XmatchQuery {
        a: XmatchSide::parse(&a.a),
        b: XmatchSide::parse(&a.b),
        radius_deg: super::angle(&a.radius, "--radius")?,
        direction: match a.direction {
            DirectionArg::AToB => Direction::AToB,
            DirectionArg::BToA => Direction::BToA,
        },
        mode: if a.all_pairs {
            XmatchMode::All
        } else {
            XmatchMode::Nearest
        },
    };
    Ok(store.xmatch(&q).map_err(anyhow::Error::from)?)
}
