//! The state shared by every server of one running emulator.

use crate::auth::Authenticator;
use crate::config::{Config, Info};
use crate::listeners::TriggerListeners;
use crate::{runtime, state};
use std::sync::Arc;

pub(crate) struct Ctx {
    pub cfg: Config,
    pub info: Info,
    pub store: Arc<state::Store>,
    pub auth: Authenticator,
    pub runtime: Arc<runtime::Runtime>,
    pub listeners: TriggerListeners,
    pub request_log: Option<crate::request_log::RequestLog>,
    /// SLS projects, logstores and logs; `sls.append` stores what the emulator itself logs.
    pub sls: Arc<crate::sls_store::Store>,
}
