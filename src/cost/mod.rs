//! What a configuration costs a month on FC 3.0: provisioned instances, plus on-demand
//! instances and invocations for a given request rate.
//!
//! The model, each step a fact in `docs/cloud-facts.md` ("Billing"):
//! - a provisioned instance is billed from its start to its release, memory all the time; its
//!   vCPU at the active rate all the time unless idle mode is on (`alwaysAllocateCPU: false`),
//!   then at the idle rate while it serves no request;
//! - an on-demand instance is billed while it executes requests; with instance concurrency,
//!   requests running together on one instance are billed once;
//! - every invocation is billed, whichever instance serves it;
//! - the month's CU total is priced by tiers; each line's share of the price is its share of
//!   the CU.
//!
//! Load is an average: `rps × avg_ms` requests in flight, packed `instance_concurrency` to an
//! instance (the fewest busy instances, so the on-demand line is a floor), served by
//! provisioned instances first. Bursts above the average, cold starts, the free trial quota,
//! resource plans and outbound traffic are not priced.

pub mod prices;
pub mod schedule;

use serde::Serialize;

pub use prices::Prices;
pub use schedule::Held;

use crate::config::Config;

/// Hours in the month estimates are for (a year's 8 760 h over 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// Why an estimate cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("provision.schedules[{index}]: `{expression}` cannot be priced: {reason}")]
    Schedule {
        index: usize,
        expression: String,
        reason: String,
    },
    #[error("{0}")]
    Load(String),
}

impl crate::exit::Hint for CostError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            CostError::Schedule { .. } => {
                "FC schedules are `cron(<sec> <min> <hour> <day> <month> <weekday>)`, e.g. \
                 cron(0 0 8 * * *), or `at(<RFC 3339 time>)`"
                    .into()
            }
            CostError::Load(_) => {
                "give --rps (requests a second, ≥ 0) with --avg-ms (the function's average \
                 duration in milliseconds, > 0)"
                    .into()
            }
        })
    }
}

/// The size of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sizing {
    pub cpu: f64,
    pub memory_mb: u32,
    pub disk_mb: u32,
    pub instance_concurrency: u32,
}

impl Sizing {
    /// The function as fcctl.yaml configures it.
    pub fn of(cfg: &Config) -> Sizing {
        Sizing {
            cpu: cfg.function.cpu,
            memory_mb: cfg.function.memory_mb,
            disk_mb: cfg.function.disk_mb,
            instance_concurrency: cfg.function.instance_concurrency,
        }
    }
}

/// Provisioned instances and whether idle mode is on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provisioned {
    pub held: Held,
    /// `provision.always_allocate_cpu: false`: idle instances' vCPU at the idle rate.
    pub idle_mode: bool,
}

impl Provisioned {
    /// `provision.instances` moved by `provision.schedules`.
    pub fn of(cfg: &Config) -> Result<Provisioned, CostError> {
        Ok(Provisioned {
            held: schedule::held(cfg.provision.instances, &cfg.provision.schedules)?,
            idle_mode: !cfg.provision.always_allocate_cpu,
        })
    }
}

/// A request rate and the function's average duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Load {
    pub rps: f64,
    pub avg_ms: f64,
}

impl Load {
    /// Checks the numbers a user typed.
    pub fn new(rps: f64, avg_ms: f64) -> Result<Load, CostError> {
        if !(rps.is_finite() && rps >= 0.0) {
            return Err(CostError::Load(format!(
                "--rps {rps} is not a request rate"
            )));
        }
        if !(avg_ms.is_finite() && avg_ms > 0.0) {
            return Err(CostError::Load(format!(
                "--avg-ms {avg_ms} is not a duration"
            )));
        }
        Ok(Load { rps, avg_ms })
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// `provisioned vCPU (active)`, `on-demand memory`, `invocations`, …
    pub item: String,
    /// Usage in `unit` over the month.
    pub quantity: f64,
    pub unit: String,
    pub cu_per_unit: f64,
    pub cu: f64,
    /// This line's share of the month's price.
    pub cost: f64,
}

/// A monthly estimate (the `--json` shape of `fcctl cost` and the `cost` keys elsewhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub currency: String,
    pub hours_per_month: f64,
    pub sizing: Sizing,
    pub provisioned: Provisioned,
    /// The request rate priced, if any.
    pub load: Option<Load>,
    /// Average busy instances the load needs (`rps × avg_ms / 1000 / instance_concurrency`).
    pub busy_instances: f64,
    /// Of those, on provisioned instances; the rest run on demand.
    pub busy_on_provisioned: f64,
    pub lines: Vec<Line>,
    pub total_cu: f64,
    pub total: f64,
    pub prices: Prices,
    /// What the figure leaves out.
    pub notes: Vec<String>,
}

/// Prices `sizing` with `provisioned` instances under `load` for one month.
pub fn estimate(
    sizing: Sizing,
    provisioned: Provisioned,
    load: Option<Load>,
    prices: &Prices,
) -> Estimate {
    let t = SECONDS_PER_MONTH;
    let gb = sizing.memory_mb as f64 / 1024.0;
    let disk_gb = if sizing.disk_mb > prices.free_disk_mb {
        sizing.disk_mb as f64 / 1024.0
    } else {
        0.0
    };
    let held = provisioned.held.average;
    let busy = load.map_or(0.0, |l| {
        l.rps * l.avg_ms / 1000.0 / sizing.instance_concurrency as f64
    });
    let busy_prov = busy.min(held);
    let on_demand = busy - busy_prov;
    let mut lines = Vec::new();
    let mut line = |item: &str, quantity: f64, unit: &str, cu_per_unit: f64| {
        if quantity > 0.0 {
            lines.push(Line {
                item: item.into(),
                quantity,
                unit: unit.into(),
                cu_per_unit,
                cu: quantity * cu_per_unit,
                cost: 0.0,
            });
        }
    };
    if provisioned.idle_mode {
        line(
            "provisioned vCPU, active",
            busy_prov * sizing.cpu * t,
            "vCPU-s",
            prices.cu_per_active_vcpu_second,
        );
        line(
            "provisioned vCPU, idle",
            (held - busy_prov) * sizing.cpu * t,
            "vCPU-s",
            prices.cu_per_idle_vcpu_second,
        );
    } else {
        line(
            "provisioned vCPU",
            held * sizing.cpu * t,
            "vCPU-s",
            prices.cu_per_active_vcpu_second,
        );
    }
    line(
        "provisioned memory",
        held * gb * t,
        "GB-s",
        prices.cu_per_gb_second,
    );
    line(
        "provisioned disk",
        held * disk_gb * t,
        "GB-s",
        prices.cu_per_disk_gb_second,
    );
    line(
        "on-demand vCPU",
        on_demand * sizing.cpu * t,
        "vCPU-s",
        prices.cu_per_active_vcpu_second,
    );
    line(
        "on-demand memory",
        on_demand * gb * t,
        "GB-s",
        prices.cu_per_gb_second,
    );
    line(
        "on-demand disk",
        on_demand * disk_gb * t,
        "GB-s",
        prices.cu_per_disk_gb_second,
    );
    line(
        "invocations",
        load.map_or(0.0, |l| l.rps * t),
        "requests",
        prices.cu_per_10k_invocations / 10_000.0,
    );
    let total_cu: f64 = lines.iter().map(|l| l.cu).sum();
    let total = prices.price(total_cu);
    for l in &mut lines {
        l.cost = if total_cu > 0.0 {
            total * l.cu / total_cu
        } else {
            0.0
        };
    }
    let mut notes = provisioned.held.notes.clone();
    if load.is_none() {
        notes.push(
            "no load priced: provisioned instances only (add --rps and --avg-ms for on-demand \
             instances and invocations)"
                .into(),
        );
    }
    if on_demand > 0.0 {
        notes.push(format!(
            "the load needs {busy:.2} busy instances on average, {on_demand:.2} more than \
             provisioned: those run on demand (and start cold)"
        ));
    }
    if sizing.disk_mb > prices.free_disk_mb {
        notes.push(format!(
            "disk {} MB priced whole; whether FC bills the first {} MB is unverified",
            sizing.disk_mb, prices.free_disk_mb
        ));
    }
    Estimate {
        currency: prices.currency.clone(),
        hours_per_month: HOURS_PER_MONTH,
        sizing,
        provisioned,
        load,
        busy_instances: busy,
        busy_on_provisioned: busy_prov,
        lines,
        total_cu,
        total,
        prices: prices.clone(),
        notes,
    }
}

/// The estimate of what fcctl.yaml configures, under `load`.
pub fn of_config(cfg: &Config, load: Option<Load>) -> Result<Estimate, CostError> {
    Ok(estimate(
        Sizing::of(cfg),
        Provisioned::of(cfg)?,
        load,
        &prices::resolve(&cfg.pricing),
    ))
}

/// `1234567.8` → `1 234 568`: bills are read by magnitude.
fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

impl Estimate {
    /// `USD 604.44 a month`.
    pub fn headline(&self) -> String {
        format!("{} {:.2} a month", self.currency, self.total)
    }

    /// One line for plans: the total and what it is made of.
    pub fn summary(&self) -> String {
        let p = &self.provisioned;
        let held = if p.held.peak as f64 == p.held.average {
            format!("{} provisioned", p.held.peak)
        } else {
            format!(
                "{} provisioned on average (peak {})",
                number(p.held.average),
                p.held.peak
            )
        };
        let load = self
            .load
            .map(|l| format!(", {} requests/s × {} ms", number(l.rps), number(l.avg_ms)))
            .unwrap_or_default();
        format!(
            "{} ({held} × {} vCPU / {} MB, idle mode {}{load}, {} h)",
            self.headline(),
            number(self.sizing.cpu),
            self.sizing.memory_mb,
            if p.idle_mode { "on" } else { "off" },
            self.hours_per_month,
        )
    }

    /// Where the prices come from: `prices of 2024-08-27: <source>`.
    pub fn provenance(&self) -> String {
        format!("prices of {}: {}", self.prices.date, self.prices.source)
    }

    /// The full bill, as `fcctl cost` prints it.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let sz = &self.sizing;
        s.push_str(&format!(
            "instance   {} vCPU / {} MB, instance concurrency {}\n",
            number(sz.cpu),
            sz.memory_mb,
            sz.instance_concurrency
        ));
        let p = &self.provisioned;
        s.push_str(&format!(
            "provision  {} instances on average (peak {}), idle mode {}\n",
            number(p.held.average),
            p.held.peak,
            if p.idle_mode {
                "on (provision.always_allocate_cpu: false)"
            } else {
                "off: vCPU billed while idle"
            }
        ));
        if let Some(l) = &self.load {
            s.push_str(&format!(
                "load       {} requests/s × {} ms = {:.2} busy instances ({:.2} on provisioned)\n",
                number(l.rps),
                number(l.avg_ms),
                self.busy_instances,
                self.busy_on_provisioned
            ));
        }
        s.push_str(&format!(
            "\n{:<26} {:>15} {:<8} {:>8} {:>13} {:>12}\n",
            "item", "usage", "unit", "CU/unit", "CU", self.currency
        ));
        for l in &self.lines {
            s.push_str(&format!(
                "{:<26} {:>15} {:<8} {:>8} {:>13} {:>12.2}\n",
                l.item,
                grouped(l.quantity),
                l.unit,
                format!("{}", l.cu_per_unit),
                grouped(l.cu),
                l.cost
            ));
        }
        s.push_str(&format!(
            "{:<26} {:>15} {:<8} {:>8} {:>13} {:>12.2}\n",
            "total",
            "",
            "",
            "",
            grouped(self.total_cu),
            self.total
        ));
        s.push_str(&format!(
            "\n{} ({} h)\nprices     of {}: {}\nscope      {}\n",
            self.headline(),
            self.hours_per_month,
            self.prices.date,
            self.prices.source,
            self.prices.scope,
        ));
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Sizing {
        Sizing {
            cpu: 1.0,
            memory_mb: 1024,
            disk_mb: 512,
            instance_concurrency: 1,
        }
    }

    fn flat(n: u32, idle_mode: bool) -> Provisioned {
        Provisioned {
            held: Held::flat(n),
            idle_mode,
        }
    }

    fn cu(e: &Estimate, item: &str) -> f64 {
        e.lines
            .iter()
            .find(|l| l.item == item)
            .map_or(0.0, |l| l.cu)
    }

    #[test]
    fn the_seed_ten_instances_all_month() {
        // 10 × 1 vCPU × 2 628 000 s = 26 280 000 CU; 10 × 1 GB × 2 628 000 s × 0.15 =
        // 3 942 000 CU; 30 222 000 CU × USD 0.00002 = USD 604.44.
        let e = estimate(seed(), flat(10, false), None, &prices::builtin());
        assert_eq!(cu(&e, "provisioned vCPU"), 26_280_000.0);
        assert!((cu(&e, "provisioned memory") - 3_942_000.0).abs() < 1e-6);
        assert!((e.total_cu - 30_222_000.0).abs() < 1e-6);
        assert!((e.total - 604.44).abs() < 1e-6, "{}", e.total);
        assert_eq!(e.lines.len(), 2);
        let shares: f64 = e.lines.iter().map(|l| l.cost).sum();
        assert!((shares - e.total).abs() < 1e-9);
    }

    #[test]
    fn load_adds_invocations_and_overflow_runs_on_demand() {
        // 100 rps × 20 ms = 2 busy instances, all on the 10 provisioned; invocations
        // 100 × 2 628 000 = 262 800 000 × 0.0075 = 1 971 000 CU.
        let load = Load::new(100.0, 20.0).unwrap();
        let e = estimate(seed(), flat(10, false), Some(load), &prices::builtin());
        assert!((e.busy_instances - 2.0).abs() < 1e-12);
        assert!((cu(&e, "invocations") - 1_971_000.0).abs() < 1e-6);
        assert_eq!(cu(&e, "on-demand vCPU"), 0.0);
        assert!((e.total - 643.86).abs() < 1e-6, "{}", e.total);
        // 0 provisioned, 0.5 vCPU / 512 MB, concurrency 2: 1 busy instance on demand;
        // vCPU 0.5 × 2 628 000 = 1 314 000 CU; memory 0.5 GB × 2 628 000 × 0.15 = 197 100 CU.
        let small = Sizing {
            cpu: 0.5,
            memory_mb: 512,
            disk_mb: 512,
            instance_concurrency: 2,
        };
        let e = estimate(small, flat(0, false), Some(load), &prices::builtin());
        assert!((e.busy_instances - 1.0).abs() < 1e-12);
        assert!((cu(&e, "on-demand vCPU") - 1_314_000.0).abs() < 1e-6);
        assert!((cu(&e, "on-demand memory") - 197_100.0).abs() < 1e-6);
        assert!(
            e.notes.iter().any(|n| n.contains("on demand")),
            "{:?}",
            e.notes
        );
    }

    #[test]
    fn idle_mode_bills_vcpu_only_while_busy() {
        // 10 provisioned, 2 busy: active 2 × 2 628 000 = 5 256 000 vCPU-s at 1 CU, idle
        // 8 × 2 628 000 = 21 024 000 vCPU-s at 0 CU; memory billed for all 10.
        let load = Load::new(100.0, 20.0).unwrap();
        let e = estimate(seed(), flat(10, true), Some(load), &prices::builtin());
        assert!((cu(&e, "provisioned vCPU, active") - 5_256_000.0).abs() < 1e-6);
        let idle = e
            .lines
            .iter()
            .find(|l| l.item == "provisioned vCPU, idle")
            .unwrap();
        assert!((idle.quantity - 21_024_000.0).abs() < 1e-6);
        assert_eq!(idle.cu, 0.0);
        assert!((cu(&e, "provisioned memory") - 3_942_000.0).abs() < 1e-6);
    }

    #[test]
    fn a_ten_gb_disk_is_priced_and_flagged() {
        // 1 instance × 10 GB × 2 628 000 s × 0.05 = 1 314 000 CU.
        let mut big = seed();
        big.disk_mb = 10240;
        let e = estimate(big, flat(1, false), None, &prices::builtin());
        assert!((cu(&e, "provisioned disk") - 1_314_000.0).abs() < 1e-6);
        assert!(e.notes.iter().any(|n| n.contains("unverified")));
    }

    #[test]
    fn bad_load_is_refused() {
        assert!(Load::new(-1.0, 20.0).is_err());
        assert!(Load::new(10.0, 0.0).is_err());
        assert!(Load::new(f64::NAN, 20.0).is_err());
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(30_222_000.0), "30 222 000");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1000.4), "1 000");
    }
}
