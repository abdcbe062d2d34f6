//! Minutes: cross-built binaries, the real model, kill tests.

mod build_glibc;
mod infra_kill;
mod model_check;
mod nas_kill;
mod nas_sync;
mod own_model;
mod up;
mod versions_gc;
