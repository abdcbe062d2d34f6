//! Seconds each: CLI behaviour, the control plane on the emulator, the client layer.

mod aliyun_emulator;
mod architecture;
mod build_inputs;
mod cli;
mod control_plane;
mod cost;
mod destroy;
mod emulator_isolation;
mod infra;
mod limits;
mod logs;
mod model_check;
mod output_nits;
mod request_inputs;
mod versions;
