//! `astrolab db migrate|status`.

use anyhow::Result;
use astrolab_store::{migrate, schema, Store};

use crate::cli::DbCommand;
use crate::config::Config;

pub fn run(cfg: &Config, cmd: &DbCommand) -> Result<()> {
    let sc = cfg.store();
    match cmd {
        DbCommand::Migrate => {
            let mut store = Store::open_unmigrated(&sc)?;
            let applied = migrate::apply_pending(&mut store)?;
            if applied.is_empty() {
                println!("{}: schema up to date", sc.describe());
            } else {
                println!("{}: applied migrations {:?}", sc.describe(), applied);
            }
        }
        DbCommand::Status { json } => {
            let mut store = Store::open_unmigrated(&sc)?;
            let status = migrate::status(&mut store)?;
            let applied_v1 = status
                .iter()
                .any(|s| s.version == 1 && s.state == "applied");
            let mut counts = Vec::new();
            if applied_v1 {
                for t in schema::TABLES {
                    counts.push((t.name, store.count_rows(t.name)?));
                }
            }
            if *json {
                let v = serde_json::json!({
                    "backend": store.backend(),
                    "database": sc.describe(),
                    "migrations": status,
                    "tables": counts.iter().map(|(t, n)| serde_json::json!({"table": t, "rows": n})).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("backend:  {}", store.backend());
                println!("database: {}", sc.describe());
                println!("migrations:");
                for s in &status {
                    println!(
                        "  {:>3}  {:<32} {:<15} {}",
                        s.version,
                        s.name,
                        s.state,
                        s.applied_at.clone().or(s.note.clone()).unwrap_or_default()
                    );
                }
                if !counts.is_empty() {
                    println!("tables:");
                    for (t, n) in counts {
                        println!("  {t:<22} {n:>12} rows");
                    }
                }
            }
        }
    }
    Ok(())
}
