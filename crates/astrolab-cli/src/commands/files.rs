//! `astrolab files list`.

use anyhow::Result;
use astrolab_store::{ResultTable, Value};

use crate::cli::FilesCommand;
use crate::config::Config;

pub fn run(cfg: &Config, cmd: &FilesCommand) -> Result<()> {
    let FilesCommand::List { out } = cmd;
    let mut store = super::open_store(cfg)?;
    let files = store.raw_files()?;
    let table = ResultTable {
        columns: [
            "file_id",
            "name",
            "version",
            "format",
            "rows",
            "size_bytes",
            "sha256",
            "ingested_at",
            "superseded",
            "source",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: files
            .into_iter()
            .map(|f| {
                vec![
                    Value::Int(f.file_id),
                    Value::Text(f.name),
                    Value::Int(f.version),
                    Value::Text(f.format),
                    Value::Int(f.rows_loaded),
                    Value::Int(f.size_bytes),
                    Value::Text(f.sha256),
                    Value::Text(f.ingested_at),
                    Value::Bool(f.superseded),
                    Value::Text(f.source),
                ]
            })
            .collect(),
    };
    crate::output::emit(&table, out, "RAW_FILES")
}
