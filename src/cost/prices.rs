//! The dated FC 3.0 price table fcctl estimates with, and its overrides from fcctl.yaml.
//!
//! Each number and its source is a row of `docs/cloud-facts.md` ("Billing"). FC 3.0 bills one
//! unit, the CU: every resource's usage times its conversion factor, summed over the month and
//! priced by monthly tiers.

use serde::Serialize;

use crate::config::PricingConfig;

/// A tier of the monthly CU price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tier {
    /// The price applies to the month's CU usage up to here (`None`: all above the tier before).
    pub up_to_cu: Option<f64>,
    pub price_per_cu: f64,
}

/// What one estimate is priced with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prices {
    pub currency: String,
    /// When the prices took effect, as the source states it.
    pub date: String,
    /// Where they come from (a URL, or the user's words from `pricing.source`).
    pub source: String,
    /// Which accounts and regions the table is for.
    pub scope: String,
    pub tiers: Vec<Tier>,
    pub cu_per_active_vcpu_second: f64,
    pub cu_per_idle_vcpu_second: f64,
    pub cu_per_gb_second: f64,
    pub cu_per_disk_gb_second: f64,
    pub cu_per_10k_invocations: f64,
    /// Disks up to this size cost nothing. Unverified: the stored material lists the disk
    /// factor but not whether FC's default 512 MB disk is billed; fcctl assumes it is not.
    pub free_disk_mb: u32,
    /// fcctl.yaml `pricing:` keys that replaced the built-in entries.
    pub overridden: Vec<String>,
}

/// Alibaba Cloud's FC 3.0 pay-as-you-go list prices on the international site.
pub fn builtin() -> Prices {
    Prices {
        currency: "USD".into(),
        date: "2024-08-27".into(),
        source: "https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/pay-as-you-go-billing-method-1"
            .into(),
        scope: "Function Compute 3.0 pay-as-you-go, international site (alibabacloud.com, USD), \
                list prices (the 20% discount ended 2025-08-27); the page names no region, so \
                every region is priced alike — China-site (aliyun.com, CNY) prices are not in \
                this table (unverified): set them in `pricing:`"
            .into(),
        tiers: vec![
            Tier {
                up_to_cu: Some(100_000_000.0),
                price_per_cu: 0.000_020,
            },
            Tier {
                up_to_cu: Some(500_000_000.0),
                price_per_cu: 0.000_017,
            },
            Tier {
                up_to_cu: None,
                price_per_cu: 0.000_014,
            },
        ],
        cu_per_active_vcpu_second: 1.0,
        cu_per_idle_vcpu_second: 0.0,
        cu_per_gb_second: 0.15,
        cu_per_disk_gb_second: 0.05,
        cu_per_10k_invocations: 75.0,
        free_disk_mb: 512,
        overridden: Vec::new(),
    }
}

/// The built-in table with fcctl.yaml's `pricing:` keys laid over it.
pub fn resolve(cfg: &PricingConfig) -> Prices {
    let mut p = builtin();
    let set = |key: &str, from: Option<f64>, to: &mut f64| {
        from.map(|v| {
            *to = v;
            key.to_string()
        })
    };
    let mut overridden: Vec<String> = [
        set(
            "cu_per_active_vcpu_second",
            cfg.cu_per_active_vcpu_second,
            &mut p.cu_per_active_vcpu_second,
        ),
        set(
            "cu_per_idle_vcpu_second",
            cfg.cu_per_idle_vcpu_second,
            &mut p.cu_per_idle_vcpu_second,
        ),
        set(
            "cu_per_gb_second",
            cfg.cu_per_gb_second,
            &mut p.cu_per_gb_second,
        ),
        set(
            "cu_per_disk_gb_second",
            cfg.cu_per_disk_gb_second,
            &mut p.cu_per_disk_gb_second,
        ),
        set(
            "cu_per_10k_invocations",
            cfg.cu_per_10k_invocations,
            &mut p.cu_per_10k_invocations,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(tiers) = &cfg.tiers {
        p.tiers = tiers
            .iter()
            .map(|t| Tier {
                up_to_cu: t.up_to_cu,
                price_per_cu: t.price_per_cu,
            })
            .collect();
        overridden.push("tiers".into());
    }
    if let Some(c) = &cfg.currency {
        p.currency = c.clone();
        overridden.push("currency".into());
    }
    if !overridden.is_empty() {
        // The built-in date and source no longer describe the whole table.
        p.source = match &cfg.source {
            Some(s) => format!("{s} (fcctl.yaml `pricing:`), other entries: {}", p.source),
            None => format!("fcctl.yaml `pricing:`, other entries: {}", p.source),
        };
    } else if let Some(s) = &cfg.source {
        p.source = format!(
            "{s} (fcctl.yaml `pricing.source`; prices as built in: {})",
            p.source
        );
    }
    p.overridden = overridden;
    p
}

impl Prices {
    /// What `cu` CU cost in one month, each tier priced at its own rate.
    pub fn price(&self, cu: f64) -> f64 {
        let mut cost = 0.0;
        let mut floor = 0.0;
        for t in &self.tiers {
            let top = t.up_to_cu.unwrap_or(f64::INFINITY);
            if cu <= floor {
                break;
            }
            cost += (cu.min(top) - floor) * t.price_per_cu;
            floor = top;
        }
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_price_each_slice_at_its_rate() {
        let p = builtin();
        assert_eq!(p.price(0.0), 0.0);
        // 30 222 000 CU, all in tier 1: × 0.00002.
        assert!((p.price(30_222_000.0) - 604.44).abs() < 1e-6);
        // 150 M CU: 100 M × 0.00002 + 50 M × 0.000017 = 2000 + 850.
        assert!((p.price(150_000_000.0) - 2850.0).abs() < 1e-6);
        // 600 M CU: 2000 + 400 M × 0.000017 (6800) + 100 M × 0.000014 (1400).
        assert!((p.price(600_000_000.0) - 10_200.0).abs() < 1e-6);
    }

    #[test]
    fn overrides_replace_only_what_they_name_and_say_so() {
        let cfg = crate::config::PricingConfig {
            cu_per_gb_second: Some(0.2),
            currency: Some("CNY".into()),
            tiers: Some(vec![crate::config::PriceTier {
                up_to_cu: None,
                price_per_cu: 0.0001,
            }]),
            source: Some("contract 2026".into()),
            ..Default::default()
        };
        let p = resolve(&cfg);
        assert_eq!(p.cu_per_gb_second, 0.2);
        assert_eq!(p.cu_per_active_vcpu_second, 1.0);
        assert_eq!(p.currency, "CNY");
        assert_eq!(p.overridden, ["cu_per_gb_second", "tiers", "currency"]);
        assert!(p.source.starts_with("contract 2026"), "{}", p.source);
        assert!((p.price(1_000_000.0) - 100.0).abs() < 1e-9);
        assert_eq!(resolve(&Default::default()), builtin());
    }
}
