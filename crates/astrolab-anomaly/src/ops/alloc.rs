//! Training keeps the memory it frees.
//!
//! A training step allocates and frees the same few dozen buffers of 0.1-12
//! MB every time (activations, gradients, the optimiser's moments). glibc's
//! malloc serves allocations above its mmap threshold (128 kB at first,
//! growing up to 32 MB) with fresh `mmap`s and returns freed heap tops to the
//! kernel above its trim threshold, so every step page-faulted its buffers
//! back in and the kernel zeroed them: 23 % of a step on 64 x 3000 (perf;
//! 150 -> 108 ms a step with the settings below, bench/RESULTS.md). Raising
//! both thresholds keeps freed buffers in the heap for the next step. The
//! cost is that the process keeps its peak heap after training; the numbers
//! computed are unchanged (the allocator never touches values).

/// The largest allocation glibc still serves from the heap after this call:
/// its maximum mmap threshold on 64-bit targets.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Freed memory at the top of the heap kept before any is returned.
const TRIM_THRESHOLD: i32 = i32::MAX;

/// Sets glibc's mmap and trim thresholds for training (see the module
/// docs); does nothing on other C libraries. Idempotent.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is thread-safe
    // in glibc (it takes the arena locks).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
