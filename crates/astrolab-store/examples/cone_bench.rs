//! Cone-search latency over a list of centres (one "ra dec" per line):
//! prints p50 and p99 in milliseconds and the mean number of rows.
//!
//! usage: cone_bench (--home DIR | --database-url URL) --centres FILE [--radius-deg 1] [--table zcatalog] [--no-q3c]

use std::time::Instant;

use astrolab_store::{ConeQuery, Store, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let cfg = StoreConfig {
        home: get("--home")
            .unwrap_or_else(|| "astrolab-data".into())
            .into(),
        database_url: get("--database-url"),
        pg_schema: None,
    };
    let radius: f64 = get("--radius-deg").map_or(Ok(1.0), |s| s.parse())?;
    let table = get("--table").unwrap_or_else(|| "zcatalog".into());
    let centres: Vec<(f64, f64)> =
        std::fs::read_to_string(get("--centres").ok_or("--centres FILE")?)?
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace().map(|x| x.parse::<f64>());
                Some((it.next()?.ok()?, it.next()?.ok()?))
            })
            .collect();
    let mut store = Store::open(&cfg)?;
    if args.iter().any(|a| a == "--no-q3c") {
        store.set_q3c(false)?;
    }
    // One warm-up query (connection, page cache), as the peer gets.
    let q = |ra, dec| ConeQuery {
        table: table.clone(),
        ra_deg: ra,
        dec_deg: dec,
        radius_deg: radius,
        filter: None,
        limit: None,
        exclude_file_ids: Vec::new(),
    };
    store.cone(&q(centres[0].0, centres[0].1))?;
    let mut ms = Vec::with_capacity(centres.len());
    let mut rows = 0usize;
    for &(ra, dec) in &centres {
        let t = Instant::now();
        rows += store.cone(&q(ra, dec))?.rows.len();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    println!(
        "backend={} q3c={} queries={} p50_ms={:.3} p99_ms={:.3} mean_rows={:.1}",
        store.backend(),
        store.has_q3c(),
        ms.len(),
        pct(50.0),
        pct(99.0),
        rows as f64 / ms.len() as f64
    );
    Ok(())
}
