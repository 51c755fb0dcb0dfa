//! Where a pipeline's typed events go when the CLI runs it: log lines on
//! stdout (warnings on stderr), progress as bars on a terminal (indicatif
//! draws nothing when stderr is not a terminal, so logs and CI output stay
//! clean), or, for `astrolab run --events json`, every event as one JSON
//! line on stdout for the subprocess executor to read back typed.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use astrolab_pipeline::{Ctx, Event, EventSink, Level};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;

/// Prints log lines and draws one progress bar per stage.
#[derive(Default)]
pub struct Terminal {
    bars: Mutex<HashMap<String, ProgressBar>>,
}

fn bar(stage: &str, total: u64) -> ProgressBar {
    let (pb, template) = if total == 0 {
        (
            ProgressBar::no_length(),
            "{spinner} {msg}: {human_pos} ({per_sec}) {elapsed}",
        )
    } else {
        (
            ProgressBar::new(total),
            "{msg}: {bar:30} {human_pos}/{human_len} ({eta})",
        )
    };
    pb.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(stage.to_string());
    pb
}

impl EventSink for Terminal {
    fn emit(&self, event: Event) {
        match event {
            Event::Log { level, message } => {
                let bars = self.bars.lock().ok();
                let print = || match level {
                    Level::Info => println!("{message}"),
                    Level::Warn => eprintln!("warning: {message}"),
                    Level::Detail => eprintln!("{message}"),
                };
                match bars.as_ref().and_then(|b| b.values().next()) {
                    Some(pb) => pb.suspend(print),
                    None => print(),
                }
            }
            Event::Progress { stage, done, total } => {
                let Ok(mut bars) = self.bars.lock() else {
                    return;
                };
                let pb = bars
                    .entry(stage.clone())
                    .or_insert_with(|| bar(&stage, total));
                pb.set_position(done);
                if total > 0 && done >= total {
                    pb.finish_and_clear();
                    bars.remove(&stage);
                }
            }
            Event::Result { .. } => {
                if let Ok(mut bars) = self.bars.lock() {
                    for (_, pb) in bars.drain() {
                        pb.finish_and_clear();
                    }
                }
            }
        }
    }
}

/// Writes each event as one JSON line on stdout (`astrolab run --events
/// json`); the subprocess executor reads them back.
#[derive(Default)]
pub struct JsonLines;

impl EventSink for JsonLines {
    fn emit(&self, event: Event) {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut out = std::io::stdout().lock();
            // A closed pipe means nobody listens any more; the run goes on.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// Log lines on stderr, nothing else (`astrolab shard run`, whose stdout
/// carries only its receipt).
#[derive(Default)]
pub struct Stderr;

impl EventSink for Stderr {
    fn emit(&self, event: Event) {
        if let Event::Log { message, .. } = event {
            eprintln!("{message}");
        }
    }
}

/// The context a command runs its pipeline in: the configured store,
/// events to the terminal, acting for a queued run's submitter when a
/// worker started us (`ASTROLAB_RUN_ID`).
pub fn ctx(cfg: &Config) -> anyhow::Result<Ctx> {
    ctx_with(cfg, Arc::new(Terminal::default()))
}

/// [`ctx`] with another event sink.
pub fn ctx_with(cfg: &Config, events: Arc<dyn EventSink>) -> anyhow::Result<Ctx> {
    let mut c = Ctx::new(cfg.store(), events);
    if let Ok(raw) = std::env::var("ASTROLAB_RUN_ID") {
        let run: i64 = raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("ASTROLAB_RUN_ID={raw:?} is not a run id"))?;
        c.acting_for_run = Some(run);
    }
    Ok(c)
}
