//! Quasar outflows (issue 19): the runs around [`astrolab_qso`]'s science.
//!
//! * [`OutflowsBal`] (`outflows bal`): BAL troughs and indices as DESI's
//!   BAL catalog measures them, with the strongest C IV trough's apparent
//!   columns, over the store's quasars (sharded) or spectrum files.
//! * [`CloudyGrid`] (`outflows cloudy-grid`): Cloudy input decks for a
//!   photoionization grid over (log U, log N_H) at one n_H, one shard per
//!   model; with a Cloudy binary (`--cloudy-exe` / `CLOUDY_EXE`) each shard
//!   also runs its model and checks that Cloudy ended normally, so the grid
//!   runs on any executor (threads, child processes, a Ray cluster).
//! * [`CloudySolve`] (`outflows cloudy-solve`): reads a directory of Cloudy
//!   runs into a column grid, solves each outflow's (N_H, U) from its
//!   measured ionic columns, and adds its energetics when its speed and
//!   luminosity are given.

pub mod bal;
pub mod cloudy_grid;
pub mod cloudy_solve;

pub use bal::{BalOutput, OutflowsBal};
pub use cloudy_grid::{CloudyGrid, CloudyGridOutput};
pub use cloudy_solve::{CloudySolve, CloudySolveOutput};
