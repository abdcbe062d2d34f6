//! fcctl-function: the image-classifier inference server (the cat/dog model by default) fcctl deploys as an FC3 custom-runtime
//! function. See `function/README.md`.

pub mod events;
#[doc(hidden)]
pub mod fuzz;
pub mod labels;
pub mod manifest;
pub mod model;
pub mod opt_cache;
pub mod page;
pub mod preprocess;
pub mod release;
pub mod server;
