//! The [`Pipeline`] trait: plan shards, run one shard, reduce.
//!
//! A shard is a natural unit of the work (a recording, a file, a HEALPix
//! pixel, a void catalog); shards are independent, so an executor may run
//! them on threads, in other processes or on a Ray cluster. The reduce
//! step receives the partial results in shard order whatever order they
//! finished in, so the output never depends on the executor or the thread
//! count. Shards and partials are serde types: a cluster executor ships
//! them as JSON.

use clap::{Args, FromArgMatches};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::parse_json;

/// One pipeline: typed parameters in, a typed output out.
pub trait Pipeline: Send + Sync {
    /// Parameters: one declaration for CLI flags, JSON and the run record.
    type Params: Args + FromArgMatches + Serialize + DeserializeOwned + Send + Sync;
    /// One unit of work.
    type Shard: Serialize + DeserializeOwned + Send + Sync;
    /// What one shard gives.
    type Partial: Serialize + DeserializeOwned + Send;
    /// What the run gives (recorded in the run, printed by the CLI).
    type Output: Serialize + DeserializeOwned + Send;

    /// Divides the work (reads what it must to know the units).
    fn plan(&self, ctx: &Ctx, params: &Self::Params) -> Result<Vec<Self::Shard>, PipelineError>;

    /// Does one unit of work.
    fn run_shard(
        &self,
        ctx: &Ctx,
        params: &Self::Params,
        shard: &Self::Shard,
    ) -> Result<Self::Partial, PipelineError>;

    /// Combines the partial results, given in shard order.
    fn reduce(
        &self,
        ctx: &Ctx,
        params: &Self::Params,
        partials: Vec<Self::Partial>,
    ) -> Result<Self::Output, PipelineError>;

    /// Undoes what the finished shards of a failed or cancelled run left
    /// outside the run's output directory (rows a shard staged in the
    /// store), given their partials; the run's error is what the caller
    /// reports, so this only logs its own failures.
    fn discard(&self, _ctx: &Ctx, _params: &Self::Params, _partials: Vec<Self::Partial>) {}

    /// How many shards may run at once (1 for pipelines whose shards share
    /// a store transaction or a file; the default lets the executor use
    /// every thread it has).
    fn max_parallel_shards(&self) -> Option<usize> {
        None
    }
}

/// Runs `pipeline` in this process: plans, runs the shards on up to
/// `ctx.threads` threads (each shard's own parallel loops share the same
/// pool), reduces in shard order. Progress is reported per shard;
/// cancellation is checked before each shard.
pub fn run_in_process<P: Pipeline>(
    pipeline: &P,
    ctx: &Ctx,
    params: &P::Params,
) -> Result<P::Output, PipelineError> {
    ctx.check_cancelled()?;
    let shards = pipeline.plan(ctx, params)?;
    let total = shards.len();
    let workers = ctx
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(pipeline.max_parallel_shards().unwrap_or(usize::MAX))
        .clamp(1, total.max(1));
    let partials = if workers <= 1 || total <= 1 {
        let mut out = Vec::with_capacity(total);
        for (i, s) in shards.iter().enumerate() {
            match ctx
                .check_cancelled()
                .and_then(|_| pipeline.run_shard(ctx, params, s))
            {
                Ok(p) => out.push(p),
                Err(e) => {
                    pipeline.discard(ctx, params, out);
                    return Err(e);
                }
            }
            if total > 1 {
                ctx.progress("shards", i as u64 + 1, total as u64);
            }
        }
        out
    } else {
        run_parallel(pipeline, ctx, params, &shards, workers)?
    };
    if let Err(e) = ctx.check_cancelled() {
        pipeline.discard(ctx, params, partials);
        return Err(e);
    }
    pipeline.reduce(ctx, params, partials)
}

/// Shards on `workers` threads, each shard's parallel loops sharing the
/// run's pool; the first error stops the others at their next shard.
fn run_parallel<P: Pipeline>(
    pipeline: &P,
    ctx: &Ctx,
    params: &P::Params,
    shards: &[P::Shard],
    workers: usize,
) -> Result<Vec<P::Partial>, PipelineError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let total = shards.len();
    type Slot<T> = Mutex<Option<Result<T, PipelineError>>>;
    let slots: Vec<Slot<P::Partial>> = (0..total).map(|_| Mutex::new(None)).collect();
    let failed = std::sync::atomic::AtomicBool::new(false);
    // Each worker gets its share of the thread budget for the science's
    // own rayon loops.
    let per_worker = ctx.threads.map(|t| (t / workers).max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut wctx = ctx.clone();
                wctx.threads = per_worker.or(Some(1));
                loop {
                    if failed.load(Ordering::SeqCst) || ctx.cancel.is_cancelled() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        return;
                    }
                    let r = pipeline.run_shard(&wctx, params, &shards[i]);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                    let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                    ctx.progress("shards", d as u64, total as u64);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(total);
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner() {
            Ok(Some(Ok(p))) => out.push(p),
            Ok(Some(Err(e))) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error
                    .get_or_insert(PipelineError::Executor("a shard thread panicked".into()));
            }
            // A shard not run: an earlier one failed and its error is
            // further on (in shard order) or cancellation was asked.
            Ok(None) => continue,
        }
    }
    let error = first_error
        .map(Err)
        .unwrap_or_else(|| ctx.check_cancelled())
        .and_then(|_| {
            if out.len() == total {
                Ok(())
            } else {
                Err(PipelineError::Executor(
                    "a shard did not run; its error was lost".into(),
                ))
            }
        });
    if let Err(e) = error {
        pipeline.discard(ctx, params, out);
        return Err(e);
    }
    Ok(out)
}

/// [`run_in_process`] over JSON: parameters through the declaration,
/// output as JSON (what the catalog's erased entries call).
pub fn run_json<P: Pipeline>(
    pipeline: &P,
    ctx: &Ctx,
    params: &Value,
) -> Result<Value, PipelineError> {
    let p: P::Params = parse_json(params)?;
    let out = run_in_process(pipeline, ctx, &p)?;
    serde_json::to_value(out)
        .map_err(|e| PipelineError::Failed(anyhow::anyhow!("the output as JSON: {e}")))
}

/// A pipeline with a single shard (the whole work); for pipelines whose
/// work does not divide (a VoidFinder run, a statistics comparison).
pub trait SinglePipeline: Send + Sync {
    /// Parameters.
    type Params: Args + FromArgMatches + Serialize + DeserializeOwned + Send + Sync;
    /// Output.
    type Output: Serialize + DeserializeOwned + Send;
    /// Runs the whole work.
    fn run(&self, ctx: &Ctx, params: &Self::Params) -> Result<Self::Output, PipelineError>;
}

/// Marks the one shard of a [`SinglePipeline`].
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Whole;

impl<T: SinglePipeline> Pipeline for T {
    type Params = T::Params;
    type Shard = Whole;
    type Partial = T::Output;
    type Output = T::Output;
    fn plan(&self, _: &Ctx, _: &Self::Params) -> Result<Vec<Whole>, PipelineError> {
        Ok(vec![Whole])
    }
    fn run_shard(
        &self,
        ctx: &Ctx,
        params: &Self::Params,
        _: &Whole,
    ) -> Result<T::Output, PipelineError> {
        self.run(ctx, params)
    }
    fn reduce(
        &self,
        _: &Ctx,
        _: &Self::Params,
        mut partials: Vec<T::Output>,
    ) -> Result<T::Output, PipelineError> {
        partials
            .pop()
            .ok_or_else(|| PipelineError::Executor("the single shard gave nothing".into()))
    }
}

/// The reduce step over JSON: resolved parameters and every shard's
/// partial result (JSON bytes, in shard order) in, the output as JSON out.
pub type ReduceFn = fn(&Ctx, &Value, Vec<Vec<u8>>) -> Result<Value, PipelineError>;

/// A pipeline's plan, shards and reduce over JSON: what a cluster
/// executor calls on the machines it runs on (`astrolab shard plan|run|
/// reduce`). Shards and partials travel as JSON; run in shard order, the
/// three give the same output as [`run_json`].
#[derive(Debug, Clone, Copy)]
pub struct ShardOps {
    /// Resolved parameters in, the shards out.
    pub plan: fn(&Ctx, &Value) -> Result<Vec<Value>, PipelineError>,
    /// Resolved parameters and one shard in, its partial result out, as
    /// JSON bytes (written straight from the typed partial: no JSON tree
    /// of a million-row partial is ever built).
    pub run_shard: fn(&Ctx, &Value, &Value) -> Result<Vec<u8>, PipelineError>,
    /// Resolved parameters and every partial (JSON bytes), in shard order,
    /// in; the typed output as JSON out.
    pub reduce: ReduceFn,
    /// How many shards may run at once ([`Pipeline::max_parallel_shards`]).
    pub max_parallel: fn() -> Option<usize>,
    /// Resolved parameters and the partials (JSON bytes) of the shards
    /// that finished before the run failed ([`Pipeline::discard`]).
    pub discard: fn(&Ctx, &Value, Vec<Vec<u8>>),
}

impl ShardOps {
    /// The three steps of `P`.
    pub fn of<P: Pipeline + Default>() -> ShardOps {
        ShardOps {
            plan: plan_json::<P>,
            run_shard: run_shard_json::<P>,
            reduce: reduce_json::<P>,
            max_parallel: || P::default().max_parallel_shards(),
            discard: discard_json::<P>,
        }
    }
}

fn to_json<T: Serialize>(what: &str, t: &T) -> Result<Value, PipelineError> {
    serde_json::to_value(t)
        .map_err(|e| PipelineError::Failed(anyhow::anyhow!("{what} as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, PipelineError> {
    serde_json::from_value(v).map_err(|e| {
        PipelineError::Executor(format!(
            "{what}: not what this build of astrolab reads ({e}); are the driver and the workers the same version?"
        ))
    })
}

fn plan_json<P: Pipeline + Default>(
    ctx: &Ctx,
    params: &Value,
) -> Result<Vec<Value>, PipelineError> {
    let p: P::Params = parse_json(params)?;
    P::default()
        .plan(ctx, &p)?
        .iter()
        .map(|s| to_json("a shard", s))
        .collect()
}

fn run_shard_json<P: Pipeline + Default>(
    ctx: &Ctx,
    params: &Value,
    shard: &Value,
) -> Result<Vec<u8>, PipelineError> {
    let p: P::Params = parse_json(params)?;
    let s: P::Shard = from_json("the shard", shard.clone())?;
    let partial = P::default().run_shard(ctx, &p, &s)?;
    serde_json::to_vec(&partial)
        .map_err(|e| PipelineError::Failed(anyhow::anyhow!("the partial result as JSON: {e}")))
}

fn reduce_json<P: Pipeline + Default>(
    ctx: &Ctx,
    params: &Value,
    partials: Vec<Vec<u8>>,
) -> Result<Value, PipelineError> {
    let p: P::Params = parse_json(params)?;
    let parts = partials
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            serde_json::from_slice(&b).map_err(|e| {
                PipelineError::Executor(format!(
                    "the partial result of shard {i}: not what this build of astrolab reads ({e}); are the driver and the workers the same version?"
                ))
            })
        })
        .collect::<Result<Vec<P::Partial>, _>>()?;
    ctx.check_cancelled()?;
    to_json("the output", &P::default().reduce(ctx, &p, parts)?)
}

fn discard_json<P: Pipeline + Default>(ctx: &Ctx, params: &Value, partials: Vec<Vec<u8>>) {
    let Ok(p) = parse_json::<P::Params>(params) else {
        ctx.warn("discarding the finished shards: the parameters do not parse");
        return;
    };
    // What does not parse was not written by this build: nothing of ours
    // to undo.
    let parts: Vec<P::Partial> = partials
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    P::default().discard(ctx, &p, parts);
}
