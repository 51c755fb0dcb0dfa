//! The `astrolab` command: wires the library crates into commands.

mod cli;
mod commands;
mod config;
mod output;
mod plot;
mod progress;

use clap::Parser;

use cli::{Cli, Command, LogFormat};

/// An error in what the user asked for (exit code 2), as opposed to a
/// failure while doing it (exit code 1); one type with the pipelines'.
pub use astrolab_pipeline::UsageError;

fn init_logging(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "warn,astrolab=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASTROLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_target(false).init(),
    }
}

fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some()
            || cause
                .downcast_ref::<astrolab_pipeline::PipelineError>()
                .is_some_and(|e| e.is_usage())
        {
            return 2;
        }
        // A pipeline's error says itself whether it is the user's.
        if cause
            .downcast_ref::<astrolab_pipeline::PipelineError>()
            .is_some_and(|e| e.is_usage())
        {
            return 2;
        }
        if let Some(astrolab_store::StoreError::BadRequest { .. }) =
            cause.downcast_ref::<astrolab_store::StoreError>()
        {
            return 2;
        }
    }
    1
}

/// Runs one parsed command (`astrolab run` comes back here with the
/// command its JSON parameters stand for).
fn dispatch(cfg: &config::Config, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Quickstart(a) => commands::quickstart::run(cfg, &a),
        Command::DemoData(a) => commands::demo::run(cfg, &a),
        Command::Ingest(a) => commands::ingest::run(cfg, &a),
        Command::Db(c) => commands::db::run(cfg, &c),
        Command::Files(c) => commands::files::run(cfg, &c),
        Command::Query(c) => commands::query::run(cfg, &c),
        Command::Fetch(c) => commands::fetch::run(cfg, &c),
        Command::Spectra(c) => commands::spectra::run(cfg, &c),
        Command::Voids(c) => commands::voids::run(cfg, &c),
        Command::Hline(c) => commands::hline::run(cfg, &c),
        Command::Anomalies(c) => commands::anomalies::run(cfg, &c),
        Command::Serve(a) => commands::serve::run(cfg, &a),
        Command::Worker(a) => commands::worker::run(cfg, &a),
        Command::User(c) => commands::serve::run_user(cfg, &c),
        Command::Token(c) => commands::serve::run_token(cfg, &c),
        Command::Run(a) => commands::run::run(cfg, &a),
        Command::Outflows(c) => commands::outflows::run(cfg, &c),
        Command::Qso(c) => commands::qso::run(cfg, &c),
        Command::Shard(c) => commands::shard::run(cfg, &c),
        Command::Publish(a) => commands::publish::run(cfg, &a),
        Command::Reproduce(a) => commands::reproduce::reproduce(cfg, &a),
        Command::Runs(c) => commands::reproduce::runs(cfg, &c),
        Command::Backup(c) => commands::backup::run(cfg, &c),
        Command::DocsReference(a) => commands::docs_reference::run(&a),
    }
}

fn main() {
    let cli = Cli::parse();
    let cfg = match config::resolve(&cli.global) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    init_logging(cfg.log_format, cli.global.verbose);
    let result = dispatch(&cfg, cli.command);
    if let Err(e) = result {
        // `astrolab ... | head` closing the pipe early is not a failure.
        if e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        }) {
            std::process::exit(0);
        }
        let code = exit_code(&e);
        tracing::debug!(error = ?e, "command failed");
        eprintln!("error: {e:#}");
        std::process::exit(code);
    }
}
