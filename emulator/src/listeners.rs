//! The registry of open HTTP trigger listeners: one port per (function, trigger).

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::task::JoinHandle;

type Listeners = HashMap<(String, String), (u16, JoinHandle<()>)>;

#[derive(Default)]
pub struct TriggerListeners {
    listeners: Mutex<Listeners>,
}

impl TriggerListeners {
    pub fn insert(&self, function: &str, trigger: &str, port: u16, server: JoinHandle<()>) {
        self.listeners
            .lock()
            .unwrap()
            .insert((function.to_string(), trigger.to_string()), (port, server));
    }
    pub fn stop(&self, function: &str, trigger: &str) {
        if let Some((_, h)) = self
            .listeners
            .lock()
            .unwrap()
            .remove(&(function.to_string(), trigger.to_string()))
        {
            h.abort();
        }
    }
    pub fn stop_function(&self, function: &str) {
        let mut l = self.listeners.lock().unwrap();
        l.retain(|(f, _), (_, h)| {
            if f == function {
                h.abort();
                false
            } else {
                true
            }
        });
    }
    pub fn stop_all(&self) {
        for (_, (_, h)) in self.listeners.lock().unwrap().drain() {
            h.abort();
        }
    }
    pub fn port(&self, function: &str, trigger: &str) -> Option<u16> {
        self.listeners
            .lock()
            .unwrap()
            .get(&(function.to_string(), trigger.to_string()))
            .map(|(p, _)| *p)
    }
}
