//! fcctl: build, sync, deploy and operate an image classifier on Alibaba Cloud Function Compute 3.0.

pub mod aliyun;
pub mod bench;
