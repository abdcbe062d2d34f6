//! The state shared by every server of one running emulator.

use crate::auth::Authenticator;
use crate::config::{Config, Info};
use crate::listeners::TriggerListeners;
use crate::{runtime, state};
use std::path::PathBuf;

pub(crate) struct Ctx {
    pub cfg: Config,
    pub info: Info,
    pub nas_dir: PathBuf,
    pub store: state::Store,
    pub auth: Authenticator,
    pub runtime: runtime::Runtime,
    pub listeners: TriggerListeners,
}
