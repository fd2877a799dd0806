//! Shared pieces of the benchmark harnesses: latency statistics and the writer that keeps each
//! harness's section of `docs/BENCHMARKS.md` up to date.
//!
//! The harnesses (in `src/bin/`) drive the real release binary through the sigma-tests harness,
//! so what they measure is what users get.

pub mod cpu;
pub mod nginx;
pub mod report;
pub mod stats;
