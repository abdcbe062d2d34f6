//! The contracts that cross a process boundary, in one place so that both sides compile
//! against the same types: fcctl ↔ nas-agent ([`agent`]), nas-agent → function
//! ([`release`]: the NAS release layout and marker), and the environment fcctl gives each
//! function ([`env`]).

pub mod agent;
pub mod env;
pub mod release;
