//! Seconds each: CLI behaviour, the control plane on the emulator, the client layer.

mod aliyun_emulator;
mod architecture;
mod cli;
mod control_plane;
mod request_inputs;
