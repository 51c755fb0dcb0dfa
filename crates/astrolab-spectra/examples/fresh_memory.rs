//! What fresh memory costs on this machine (issue 3: the first batch of a
//! fresh process, `bench/notes/issue3-batch.md`, session 5).
//!
//! `fresh_memory MODE [MIB] [THREADS]` maps MIB MiB of anonymous memory
//! (default 891 MiB: flux, ivar and mask of 10 k spectra of 7781 pixels, the
//! memory a first `read_batch` of 10 k spectra needs), brings every page in
//! from THREADS threads (default 2), each its own contiguous part, then
//! writes every byte once (the copy a batch read does), and prints both
//! times and the transparent huge pages the kernel gave (`/proc/vmstat`).
//! MODE:
//! - `4k`: one write per 4 KiB page (what `pread` into a new `Vec` does);
//! - `4k-pop`: `MADV_POPULATE_WRITE` on each part (no user page faults);
//! - `thp`: `MADV_HUGEPAGE`, then `MADV_POPULATE_WRITE` (2 MiB pages).
//!
//! Run it in a fresh process per figure (the point is fresh memory), e.g.
//! `for m in 4k 4k-pop thp; do sleep 6; fresh_memory $m; done`.

//! Linux only (the advice is Linux's).

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("fresh_memory: Linux only");
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    linux::main()
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::Instant;

    use memmap2::{MmapMut, MmapOptions};

    fn vmstat(key: &str) -> u64 {
        std::fs::read_to_string("/proc/vmstat")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    (k == key).then(|| v.trim().parse().ok())?
                })
            })
            .unwrap_or(0)
    }

    pub fn main() -> Result<(), Box<dyn std::error::Error>> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let usage = "usage: fresh_memory 4k|4k-pop|thp [MIB] [THREADS]";
        let mode = args.first().ok_or(usage)?.as_str();
        if !["4k", "4k-pop", "thp"].contains(&mode) {
            return Err(usage.into());
        }
        let default_mib = (3 * 10_000 * 7781 * 4usize).div_ceil(1 << 20);
        let mib: usize = args.get(1).map_or(Ok(default_mib), |s| s.parse())?;
        let threads: usize = args.get(2).map_or(Ok(2), |s| s.parse())?;
        let len = mib << 20;
        let part = len.div_ceil(threads.max(1)).div_ceil(2 << 20) * (2 << 20);
        let thp_before = vmstat("thp_fault_alloc");

        let t = Instant::now();
        let mut map: MmapMut = MmapOptions::new().len(len).map_anon()?;
        if mode == "thp" {
            map.advise(memmap2::Advice::HugePage)?;
        }
        if mode == "4k" {
            std::thread::scope(|s| {
                for p in map.chunks_mut(part) {
                    s.spawn(move || {
                        for b in p.iter_mut().step_by(4096) {
                            *b = 1;
                        }
                    });
                }
            });
        } else {
            let map = &map;
            std::thread::scope(|s| {
                for a in (0..len).step_by(part) {
                    let n = part.min(len - a);
                    s.spawn(move || map.advise_range(memmap2::Advice::PopulateWrite, a, n));
                }
            });
        }
        let fault = t.elapsed();

        let t = Instant::now();
        std::thread::scope(|s| {
            for p in map.chunks_mut(part) {
                s.spawn(move || p.fill(7));
            }
        });
        let write = t.elapsed();
        println!(
            "fresh_memory {mode}: {mib} MiB, {threads} threads: pages in {:.1} ms ({:.2} GB/s), \
         then one write of every byte {:.1} ms; huge pages given {}",
            fault.as_secs_f64() * 1e3,
            len as f64 / fault.as_secs_f64() / 1e9,
            write.as_secs_f64() * 1e3,
            vmstat("thp_fault_alloc") - thp_before,
        );
        Ok(())
    }
}
