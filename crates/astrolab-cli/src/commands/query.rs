//! `astrolab query cone|xmatch|sql`.

use anyhow::Result;
use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use astrolab_store::ConeQuery;

use crate::cli::{DirectionArg, QueryCommand};
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
            let q = ConeQuery {
                table: a.table.clone(),
                ra_deg: a.ra,
                dec_deg: a.dec,
                radius_deg: angle(&a.radius, "--radius")?,
                filter: a.filter.clone(),
                limit: a.limit,
                exclude_file_ids: Vec::new(),
            };
            let t = store.cone(&q)?;
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
