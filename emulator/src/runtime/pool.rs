//! Instance pools, one per (function, pool version), and the per-function instance cap.

use crate::runtime::instance::{ColdStart, Instance};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Cap on concurrent on-demand starts per pool, so a burst cannot fork without bound.
const MAX_STARTING_ON_DEMAND: usize = 64;

#[derive(Default)]
pub struct PoolInner {
    pub instances: Vec<Arc<Instance>>,
    pub starting_ondemand: usize,
    /// Provisioned instances being started, per qualifier.
    pub starting_prov: HashMap<String, usize>,
}

pub struct Pool {
    pub inner: Mutex<PoolInner>,
    /// Signalled when a slot frees up or an instance joins or leaves.
    pub notify: tokio::sync::Notify,
}

/// What `acquire` does next for a request.
pub enum Step {
    Got(Arc<Instance>),
    /// A start slot was reserved: start an on-demand instance.
    Start,
    Wait,
    NoInstanceAllowed,
}

impl Pool {
    /// Picks a ready instance with a free slot (provisioned first, then the least loaded),
    /// or reserves a start if the function may scale out.
    pub fn next_step(
        &self,
        counts: &InstanceCounts,
        function: &str,
        cap: usize,
        disable_ondemand: bool,
    ) -> Step {
        let mut g = self.inner.lock().unwrap();
        g.instances.retain(|i| i.is_alive());
        let pick = g
            .instances
            .iter()
            .filter(|i| i.is_ready() && i.inflight() < i.concurrency)
            .min_by_key(|i| (i.provisioned.is_none(), i.inflight()))
            .cloned();
        if let Some(inst) = pick {
            inst.inflight.fetch_add(1, Ordering::AcqRel);
            Step::Got(inst)
        } else if !disable_ondemand
            && g.starting_ondemand < MAX_STARTING_ON_DEMAND
            && counts.reserve(function, cap)
        {
            g.starting_ondemand += 1;
            Step::Start
        } else if disable_ondemand
            && !g.instances.iter().any(|i| i.provisioned.is_some())
            && g.starting_prov.values().sum::<usize>() == 0
        {
            Step::NoInstanceAllowed
        } else {
            Step::Wait
        }
    }
}

/// An in-flight request's hold on one instance slot; dropping it frees the slot.
pub struct Lease {
    pub inst: Arc<Instance>,
    pool: Arc<Pool>,
    pub cold: Option<ColdStart>,
}

impl Lease {
    pub fn new(inst: Arc<Instance>, pool: Arc<Pool>, cold: Option<ColdStart>) -> Lease {
        Lease { inst, pool, cold }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inst.inflight.fetch_sub(1, Ordering::AcqRel);
        *self.inst.last_used.lock().unwrap() = Instant::now();
        self.pool.notify.notify_waiters();
    }
}

/// Instances (running + starting) per function, for the scale-out cap.
#[derive(Default)]
pub struct InstanceCounts(Mutex<HashMap<String, usize>>);

impl InstanceCounts {
    /// Counts one more instance of `function` unless that would exceed `cap`.
    pub fn reserve(&self, function: &str, cap: usize) -> bool {
        let mut c = self.0.lock().unwrap();
        let n = c.entry(function.to_string()).or_default();
        if *n >= cap {
            return false;
        }
        *n += 1;
        true
    }

    pub fn release(&self, function: &str) {
        let mut c = self.0.lock().unwrap();
        if let Some(n) = c.get_mut(function) {
            *n = n.saturating_sub(1);
        }
    }
}

type PoolKey = (String, String);

#[derive(Default)]
pub struct Pools {
    map: Mutex<HashMap<PoolKey, Arc<Pool>>>,
    pub counts: InstanceCounts,
}

impl Pools {
    pub fn get(&self, function: &str, pool_version: &str) -> Arc<Pool> {
        self.map
            .lock()
            .unwrap()
            .entry((function.to_string(), pool_version.to_string()))
            .or_insert_with(|| {
                Arc::new(Pool {
                    inner: Mutex::new(PoolInner::default()),
                    notify: tokio::sync::Notify::new(),
                })
            })
            .clone()
    }

    pub fn snapshot(&self) -> Vec<(PoolKey, Arc<Pool>)> {
        self.map
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Live instances of `function`, across its pools.
    pub fn instances(&self, function: &str) -> Vec<Arc<Instance>> {
        let pools = self.map.lock().unwrap();
        let mut out = Vec::new();
        for ((f, _), p) in pools.iter() {
            if f == function {
                out.extend(
                    p.inner
                        .lock()
                        .unwrap()
                        .instances
                        .iter()
                        .filter(|i| i.is_alive())
                        .cloned(),
                );
            }
        }
        out
    }

    /// Takes `inst` out of its pool; false if it was already gone.
    pub fn remove_instance(&self, inst: &Arc<Instance>) -> bool {
        let pools = self.map.lock().unwrap();
        if let Some(p) = pools.get(&(inst.function.clone(), inst.pool_version.clone())) {
            let mut g = p.inner.lock().unwrap();
            let before = g.instances.len();
            g.instances.retain(|i| !Arc::ptr_eq(i, inst));
            if g.instances.len() != before {
                drop(g);
                self.counts.release(&inst.function);
                p.notify.notify_waiters();
                return true;
            }
        }
        false
    }

    /// Empties every pool and returns their instances.
    pub fn take_all(&self) -> Vec<Arc<Instance>> {
        let mut pools = self.map.lock().unwrap();
        let mut v = Vec::new();
        for p in pools.values() {
            v.append(&mut p.inner.lock().unwrap().instances);
        }
        pools.clear();
        v
    }

    /// Drops the pools `keep` rejects and returns their instances.
    pub fn drop_pools(&self, mut keep: impl FnMut(&PoolKey) -> bool) -> Vec<Arc<Instance>> {
        let mut pools = self.map.lock().unwrap();
        let mut out = Vec::new();
        pools.retain(|k, p| {
            if keep(k) {
                true
            } else {
                out.append(&mut p.inner.lock().unwrap().instances);
                false
            }
        });
        out
    }
}
