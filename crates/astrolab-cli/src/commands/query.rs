//! `astrolab query cone|xmatch|sql`.

use anyhow::Result;
use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use astrolab_store::ConeQuery;

use crate::cli::{DirectionArg, OutputFormat, QueryCommand};
use crate::config::Config;
use crate::units::parse_angle_deg;
use crate::UsageError;

fn angle(s: &str, flag: &str) -> Result<f64> {
    parse_angle_deg(s).map_err(|e| UsageError(format!("{flag}: {e}")).into())
}

pub fn run(cfg: &Config, cmd: &QueryCommand) -> Result<()> {
    let mut store = super::open_store(cfg)?;
    match cmd {
        QueryCommand::Cone(a) => {
            let table = match &a.table {
                Some(t) => t.clone(),
                None => default_cone_table(&mut store)?,
            };
            let q = ConeQuery {
                table: table.clone(),
                ra_deg: a.ra,
                dec_deg: a.dec,
                radius_deg: angle(&a.radius, "--radius")?,
                filter: a.filter.clone(),
                limit: a.limit,
                exclude_file_ids: Vec::new(),
            };
            let t = store.cone(&q)?;
            if t.rows.is_empty() && !store.table_has_rows(&table)? {
                // Zero rows because nothing was ever loaded here, not because
                // nothing is near: say so, and where the rows are.
                let with_rows = store.sky_tables_with_rows()?;
                let note = empty_table_note(&table, &with_rows);
                eprintln!("note: {note}");
                if a.out.format == OutputFormat::Json {
                    let v = serde_json::json!({
                        "rows": [],
                        "table": table,
                        "table_empty": true,
                        "tables_with_rows": with_rows,
                        "note": note,
                    });
                    return crate::output::emit_json(&v, &a.out);
                }
            }
            crate::output::emit(&t, &a.out, "CONE")
        }
        QueryCommand::Xmatch(a) => {
            let q = XmatchQuery {
                a: XmatchSide::parse(&a.a),
                b: XmatchSide::parse(&a.b),
                radius_deg: angle(&a.radius, "--radius")?,
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
            let t = store.xmatch(&q)?;
            crate::output::emit(&t, &a.out, "XMATCH")
        }
        QueryCommand::Sql(a) => {
            let t = store.sql_readonly(&a.sql)?;
            crate::output::emit(&t, &a.out, "RESULT")
        }
    }
}

/// The table a cone search without --table searches: zcatalog, unless it
/// is empty and exactly one other sky table holds rows (a newcomer who
/// ingested a galaxy list into `galaxies` and searches without --table).
/// The switch is said on stderr.
fn default_cone_table(store: &mut astrolab_store::Store) -> Result<String> {
    const DEFAULT: &str = "zcatalog";
    if store.table_has_rows(DEFAULT)? {
        return Ok(DEFAULT.to_string());
    }
    match store.sky_tables_with_rows()?.as_slice() {
        [only] => {
            eprintln!(
                "note: {DEFAULT} (the default table) is empty; searching {only}, the only sky \
                 table with rows (give --table to choose)"
            );
            Ok(only.to_string())
        }
        _ => Ok(DEFAULT.to_string()),
    }
}

/// What to tell someone whose cone search found nothing in an empty table.
fn empty_table_note(table: &str, with_rows: &[&str]) -> String {
    if with_rows.is_empty() {
        format!(
            "table {table} is empty, as is every sky table: load a catalog first \
             (astrolab ingest FILE, or astrolab quickstart for demo data)"
        )
    } else {
        format!(
            "table {table} is empty (nothing was ingested into it); sky tables with rows: {}; \
             search one with --table NAME",
            with_rows.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_table_note_names_the_tables_that_hold_rows() {
        assert_eq!(
            empty_table_note("zcatalog", &["galaxies", "fastspec"]),
            "table zcatalog is empty (nothing was ingested into it); sky tables with rows: \
             galaxies, fastspec; search one with --table NAME"
        );
        assert_eq!(
            empty_table_note("galaxies", &[]),
            "table galaxies is empty, as is every sky table: load a catalog first \
             (astrolab ingest FILE, or astrolab quickstart for demo data)"
        );
    }
}
