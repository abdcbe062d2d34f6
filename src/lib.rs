//! fcctl: build, sync, deploy and operate an image classifier on Alibaba Cloud Function Compute 3.0.

pub mod aliyun;
pub mod bench;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod config;
pub mod cost;
pub mod credentials;
pub mod deploy;
pub mod exit;
pub mod fsutil;
pub mod infra;
pub mod local;
pub mod logging;
pub mod model;
pub mod nas;
pub mod package;
pub mod pipeline;
pub mod printer;
pub mod project;
pub mod s_yaml;
pub mod state;
