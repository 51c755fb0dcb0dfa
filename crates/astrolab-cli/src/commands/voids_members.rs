//! `astrolab voids members`: membership rows from the store, their
//! per-catalog summary, or the TARGETIDs of one class (written fast: the
//! void-vs-wall selection may hold millions).

use anyhow::Result;
use clap::Args;

use crate::cli::OutputArgs;

/// Arguments of `voids members`.
#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Only this algorithm (VoidFinder, REVOLVER, VIDE, ZOBOV).
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Filter over the membership columns (target_id, algorithm, cap,
    /// vflag, void_id, r_void_norm, void_edge, catalog, file_id,
    /// galaxy_file_id), e.g.
    /// "vflag = 1 AND r_void_norm < 0.5".
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the per-catalog counts (per galaxy source file) instead of
    /// the rows.
    #[arg(long)]
    pub summary: bool,
    /// Print only the TARGETIDs of --algorithm's galaxies with this vflag
    /// (one per line, ascending; the fast void-vs-wall selection).
    #[arg(long, requires = "algorithm")]
    pub vflag: Option<u8>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Writes ids one per line. Millions of them (the void-vs-wall selection)
/// are formatted into a 1 MiB buffer that is written and reused, so the
/// text never exists whole in memory (no page faults for it), by
/// [`put_id`], which writes in place (a per-id `extend_from_slice` of a
/// formatted string was a third of the selection's time: one memmove call
/// per id).
fn write_ids(mut w: impl std::io::Write, ids: &[i64]) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK + 32];
    let mut pos = 0;
    for &id in ids {
        pos += put_id(&mut buf[pos..], id);
        buf[pos] = b'\n';
        pos += 1;
        if pos >= CHUNK {
            w.write_all(&buf[..pos])?;
            pos = 0;
        }
    }
    w.write_all(&buf[..pos])?;
    w.flush()
}

/// Writes `id` in decimal at the start of `out` (at least 20 bytes) and
/// returns its length.
fn put_id(out: &mut [u8], id: i64) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";
    let (sign, mut n) = if id < 0 {
        out[0] = b'-';
        (1, id.unsigned_abs())
    } else {
        (0, id as u64)
    };
    let len = sign + n.checked_ilog10().unwrap_or(0) as usize + 1;
    let o = &mut out[..len];
    let mut i = len;
    // The low eight digits of long ids in u32 arithmetic (cheaper than
    // u64 division), then the rest.
    if n >= 100_000_000 {
        let mut lo = (n % 100_000_000) as u32;
        n /= 100_000_000;
        for _ in 0..4 {
            let d = (lo % 100) as usize * 2;
            lo /= 100;
            i -= 2;
            o[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
        }
    }
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        o[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        o[i - 2..i].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        o[i - 1] = b'0' + n as u8;
    }
    len
}

pub fn run(ctx: &astrolab_pipeline::Ctx, args: &MembersArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    if args.summary {
        let s = store.void_membership_summary()?;
        let t = astrolab_store::ResultTable {
            columns: [
                "algorithm",
                "cap",
                "catalog",
                "vflag",
                "galaxy_file_id",
                "n_galaxies",
                "r_void_norm_mean",
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
            rows: s
                .into_iter()
                .filter(|r| {
                    args.algorithm
                        .as_ref()
                        .is_none_or(|a| a.eq_ignore_ascii_case(&r.algorithm))
                })
                .map(|r| {
                    use astrolab_store::Value;
                    vec![
                        Value::Text(r.algorithm),
                        Value::Text(r.cap),
                        Value::Text(r.catalog),
                        Value::Int(r.vflag),
                        r.galaxy_file_id.map_or(Value::Null, Value::Int),
                        Value::Int(r.n_galaxies),
                        r.r_void_norm_mean.map_or(Value::Null, Value::Float),
                    ]
                })
                .collect(),
        };
        return crate::output::emit(&t, &args.out, "SUMMARY");
    }
    if let (Some(v), Some(a)) = (args.vflag, &args.algorithm) {
        let ids = store.void_membership_targets(a, v)?;
        match &args.out.output {
            Some(p) => {
                let mut text = Vec::new();
                write_ids(&mut text, &ids)?;
                astrolab_pipeline::output::write_file(p, &text)?;
            }
            None => write_ids(std::io::stdout().lock(), &ids)?,
        }
        return Ok(());
    }
    // The algorithm is bound as a parameter, the filter compiled by the store.
    let t = store.void_membership_rows(
        args.algorithm.as_deref(),
        args.filter.as_deref(),
        args.limit,
    )?;
    crate::output::emit(&t, &args.out, "MEMBERS")
}

#[cfg(test)]
mod id_text_tests {
    use super::{put_id, write_ids};

    #[test]
    fn ids_are_written_as_rust_formats_them() {
        let mut ids = vec![
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            39627000000000000,
            i64::MAX,
            i64::MIN,
            -1,
            -10,
            -12345,
        ];
        // Every length and a crossing of the 1 MiB chunk boundary.
        ids.extend((0..19).map(|k| 10i64.pow(k) - 1));
        ids.extend((0..120_000).map(|k| 39_627_000_000_000_000 + k * 7919));
        let mut out = Vec::new();
        write_ids(&mut out, &ids).unwrap();
        let want: String = ids.iter().map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut b = [0u8; 24];
        assert_eq!(put_id(&mut b, -5), 2);
        assert_eq!(&b[..2], b"-5");
    }
}
