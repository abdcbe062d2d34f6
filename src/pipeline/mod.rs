//! The pipeline steps, in the order `fcctl up` runs them: build → nas-sync → deploy → publish
//! → alias → provision → smoke test. Each step is a library function taking the project, the
//! connection and the printer, converges (a re-run changes nothing) and returns a report that
//! `commands/` prints.

pub mod alias;
pub mod build;
pub mod deploy;
pub mod destroy;
pub mod freshness;
pub mod infra;
pub mod logs;
pub mod nas_sync;
pub mod provision;
pub mod publish;
pub mod smoke;
pub mod up;
pub mod verify;
pub mod versions;
