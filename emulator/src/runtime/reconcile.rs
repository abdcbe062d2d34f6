//! Housekeeping, one pass at a time: drop exited instances, reap idle on-demand ones,
//! converge provisioned instances to their targets, drop pools of deleted functions or of
//! a LATEST that has changed.

use crate::runtime::instance::Instance;
use crate::runtime::pool::{Pool, Pools};
use crate::runtime::spawn::Spawner;
use crate::runtime::target::{Target, pool_version, resolve};
use crate::state::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failing provision configs stay quiet this long before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The last error per provisioned (function, qualifier), reported as `currentError`.
#[derive(Default)]
pub struct ProvisionErrors(Mutex<HashMap<(String, String), (String, Instant)>>);

impl ProvisionErrors {
    pub fn get(&self, function: &str, qualifier: &str) -> String {
        self.0
            .lock()
            .unwrap()
            .get(&(function.to_string(), qualifier.to_string()))
            .map(|(e, _)| e.clone())
            .unwrap_or_default()
    }
    fn set(&self, function: &str, qualifier: &str, message: String) {
        self.0.lock().unwrap().insert(
            (function.to_string(), qualifier.to_string()),
            (message, Instant::now()),
        );
    }
    fn clear(&self, function: &str, qualifier: &str) {
        self.0
            .lock()
            .unwrap()
            .remove(&(function.to_string(), qualifier.to_string()));
    }
    fn failed_recently(&self, function: &str, qualifier: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .get(&(function.to_string(), qualifier.to_string()))
            .is_some_and(|(_, at)| at.elapsed() < RETRY_AFTER)
    }
}

pub struct Reconciler {
    pub pools: Arc<Pools>,
    pub spawner: Arc<Spawner>,
    pub errors: Arc<ProvisionErrors>,
    pub idle_timeout: Duration,
    pub max_instances_per_function: usize,
}

/// A provision config resolved to its target: (target, qualifier, wanted count).
type Wanted = (Target, String, usize);

impl Reconciler {
    pub async fn tick(&self, store: &Store) {
        let pools = self.pools.snapshot();
        let to_stop = self.exited_or_idle(&pools);
        let targets = self.provision_targets(store);
        self.retire_unwanted(&pools, &targets);
        for (t, q, n) in targets {
            self.start_missing(t, q, n);
        }
        for i in to_stop {
            if self.pools.remove_instance(&i) {
                self.stop_later(i);
            }
        }
        self.drop_stale_pools(store);
    }

    fn stop_later(&self, inst: Arc<Instance>) {
        let spawner = self.spawner.clone();
        tokio::spawn(async move { spawner.stop(inst).await });
    }

    fn exited_or_idle(&self, pools: &[((String, String), Arc<Pool>)]) -> Vec<Arc<Instance>> {
        let mut out = Vec::new();
        for (_, p) in pools {
            let snapshot: Vec<Arc<Instance>> = p.inner.lock().unwrap().instances.clone();
            for i in snapshot {
                let idle_on_demand = i.provisioned.is_none()
                    && i.inflight() == 0
                    && i.last_used.lock().unwrap().elapsed() >= self.idle_timeout;
                if idle_on_demand || i.has_exited() {
                    out.push(i);
                }
            }
        }
        out
    }

    /// Every provision config resolved to its target; configs that no longer resolve
    /// record their error instead.
    fn provision_targets(&self, store: &Store) -> Vec<Wanted> {
        let desired: Vec<(String, String, usize)> = {
            let st = store.read();
            let mut v = Vec::new();
            for (fname, f) in &st.functions {
                for (q, p) in &f.provision {
                    v.push((fname.clone(), q.clone(), p.target_now().max(0) as usize));
                }
            }
            v
        };
        let mut targets = Vec::new();
        for (fname, q, n) in desired {
            match resolve(store, &fname, Some(&q), false) {
                Ok(t) => targets.push((t, q, n)),
                Err(e) => self.errors.set(&fname, &q, e.message),
            }
        }
        targets
    }

    /// Retires provisioned instances that are no longer wanted (config deleted, version
    /// moved, too many).
    fn retire_unwanted(&self, pools: &[((String, String), Arc<Pool>)], targets: &[Wanted]) {
        let wanted: HashMap<(&str, &str), (String, usize)> = targets
            .iter()
            .map(|(t, q, n)| ((t.function.as_str(), q.as_str()), (pool_version(t), *n)))
            .collect();
        for ((f, v), p) in pools {
            let mut g = p.inner.lock().unwrap();
            let mut keep_count: HashMap<String, usize> = HashMap::new();
            let mut retire = Vec::new();
            for i in g.instances.iter() {
                if let Some(q) = &i.provisioned {
                    let keep = match wanted.get(&(f.as_str(), q.as_str())) {
                        Some((ver, n)) if ver == v => {
                            let c = keep_count.entry(q.clone()).or_default();
                            *c += 1;
                            *c <= *n
                        }
                        _ => false,
                    };
                    if !keep {
                        retire.push(i.clone());
                    }
                }
            }
            g.instances
                .retain(|i| !retire.iter().any(|r| Arc::ptr_eq(r, i)));
            drop(g);
            for r in retire {
                self.pools.counts.release(f);
                self.stop_later(r);
            }
        }
    }

    /// Starts the provisioned instances `q` of `t` lacks (running + starting < `n`).
    fn start_missing(&self, t: Target, q: String, n: usize) {
        let pool = self.pools.get(&t.function, &pool_version(&t));
        let missing = {
            let g = pool.inner.lock().unwrap();
            let have = g
                .instances
                .iter()
                .filter(|i| i.provisioned.as_deref() == Some(q.as_str()))
                .count()
                + g.starting_prov.get(&q).copied().unwrap_or(0);
            n.saturating_sub(have)
        };
        if missing == 0 {
            self.errors.clear(&t.function, &q);
            return;
        }
        if self.errors.failed_recently(&t.function, &q) {
            return;
        }
        let cap = self.max_instances_per_function;
        for _ in 0..missing {
            if !self.pools.counts.reserve(&t.function, cap) {
                self.errors.set(
                    &t.function,
                    &q,
                    format!("instance cap reached ({cap} per function)"),
                );
                break;
            }
            *pool
                .inner
                .lock()
                .unwrap()
                .starting_prov
                .entry(q.clone())
                .or_default() += 1;
            let (pools, spawner, errors) = (
                self.pools.clone(),
                self.spawner.clone(),
                self.errors.clone(),
            );
            let (t, q, pool) = (t.clone(), q.clone(), pool.clone());
            tokio::spawn(async move {
                let r = spawner.start(&t, Some(q.clone())).await;
                let mut g = pool.inner.lock().unwrap();
                if let Some(c) = g.starting_prov.get_mut(&q) {
                    *c = c.saturating_sub(1);
                }
                match r {
                    Ok((inst, _)) => {
                        g.instances.push(inst);
                        drop(g);
                        pool.notify.notify_waiters();
                    }
                    Err(e) => {
                        drop(g);
                        pools.counts.release(&t.function);
                        tracing::warn!(function = %t.function, qualifier = %q, "provisioned instance failed: {}", e.message);
                        errors.set(&t.function, &q, format!("{}: {}", e.code, e.message));
                    }
                }
            });
        }
    }

    /// Drops the pools of deleted functions and of LATEST configs that have since changed.
    fn drop_stale_pools(&self, store: &Store) {
        let latest: HashMap<String, String> = store
            .read()
            .functions
            .iter()
            .map(|(k, f)| {
                let t = Target {
                    function: k.clone(),
                    version: "LATEST".into(),
                    qualifier: "LATEST".into(),
                    config: f.config.clone(),
                    code_sha: f.code_sha.clone(),
                    nas_file_systems: Default::default(),
                };
                (k.clone(), pool_version(&t))
            })
            .collect();
        let gone = self.pools.drop_pools(|(f, v)| {
            let stale_latest = v.starts_with("LATEST@") && latest.get(f) != Some(v);
            latest.contains_key(f) && !stale_latest
        });
        for i in gone {
            self.pools.counts.release(&i.function);
            self.stop_later(i);
        }
    }
}
