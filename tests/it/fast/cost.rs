//! End-to-end: `fcctl cost`, and the cost `provision --dry-run`, `deploy --dry-run` and
//! `status` show. Figures are hand-computed from the built-in table (USD 0.00002 a CU below
//! 100 M CU; 1 CU a vCPU-second, 0.15 a GB-second, 75 per 10 000 invocations; 730 h).

use crate::support::{TestProject, text};

/// One 1 vCPU / 1024 MB instance held 730 h: 2 628 000 s × (1 + 0.15) CU × USD 0.00002.
const ONE_INSTANCE_USD: f64 = 60.444;

fn close(v: &serde_json::Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}

#[test]
fn cost_json_prices_provisioned_instances_load_and_overrides() {
    let p = TestProject::builder()
        .config(
            "app: cat-dog\nfunction:\n  memory_mb: 1024\n  cpu: 1.0\nprovision:\n  instances: 10\n",
        )
        .start();
    let e = p.json(&["cost", "--rps", "100", "--avg-ms", "20", "--json"]);
    // 10 instances: 604.44; 262 800 000 invocations × 0.0075 CU = 1 971 000 CU = 39.42.
    assert!(close(&e["total"], 643.86), "{e}");
    assert!(close(&e["total_cu"], 32_193_000.0), "{e}");
    assert_eq!(e["currency"], "USD");
    assert_eq!(e["prices"]["date"], "2024-08-27");
    assert!(
        e["prices"]["source"]
            .as_str()
            .unwrap()
            .contains("alibabacloud.com"),
        "{e}"
    );
    let items: Vec<&str> = e["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["item"].as_str().unwrap())
        .collect();
    assert_eq!(
        items,
        ["provisioned vCPU", "provisioned memory", "invocations"]
    );

    // Idle mode, office-hours schedule, smaller instances and a contract price from fcctl.yaml:
    // 0.5 vCPU / 512 MB, 20 instances 08–20 h and 2 otherwise (11 on average); vCPU idle at
    // 0 CU without load; memory 11 × 0.5 GB × 2 628 000 s × 0.15 = 2 168 100 CU × 0.0001.
    std::fs::write(
        p.path().join("fcctl.yaml"),
        "app: cat-dog\nfunction:\n  memory_mb: 512\n  cpu: 0.5\nprovision:\n  instances: 2\n  \
         always_allocate_cpu: false\n  schedules:\n    - name: day\n      cron: cron(0 0 8 * * *)\n      \
         target: 20\n    - name: night\n      cron: cron(0 0 20 * * *)\n      target: 2\n\
         pricing:\n  currency: CNY\n  tiers:\n    - price_per_cu: 0.0001\n  source: contract 2026\n",
    )
    .unwrap();
    let e = p.json(&["cost", "--json"]);
    assert!(close(&e["provisioned"]["held"]["average"], 11.0), "{e}");
    assert_eq!(e["provisioned"]["held"]["peak"], 20);
    assert!(close(&e["total"], 216.81), "{e}");
    assert_eq!(e["currency"], "CNY");
    assert_eq!(
        e["prices"]["overridden"],
        serde_json::json!(["tiers", "currency"])
    );

    // A load that does not make sense is refused, naming the flag and the fix.
    let out = p.fcctl(&["cost", "--rps=-1", "--avg-ms", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("--rps -1 is not a request rate"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("hint: give --rps"), "{}", text(&out));
    // So is a pricing key with a bad value, at its line.
    std::fs::write(
        p.path().join("fcctl.yaml"),
        "app: cat-dog\npricing:\n  cu_per_gb_second: -0.15\n",
    )
    .unwrap();
    let out = p.fcctl(&["cost"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("fcctl.yaml:3:3: `pricing.cu_per_gb_second`"),
        "{}",
        text(&out)
    );
}

#[test]
fn cost_human_output() {
    let p = TestProject::builder()
        .config(
            "app: cat-dog\nfunction:\n  memory_mb: 1024\n  cpu: 1.0\nprovision:\n  instances: 10\n",
        )
        .start();
    let out = p.fcctl(&["cost", "--rps", "590", "--avg-ms", "41"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn provision_and_deploy_dry_runs_and_status_show_the_monthly_cost() {
    let p = TestProject::builder()
        .config(
            "app: cat-dog\nfunction:\n  memory_mb: 1024\n  cpu: 1.0\nprovision:\n  instances: 2\n",
        )
        .start();
    p.fake_build("v1", "r-one");
    let dry = p.fcctl(&["deploy", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    // The project's 2 provisioned instances of 1 vCPU / 1024 MB.
    assert!(
        close(&plan["cost"]["total"], 2.0 * ONE_INSTANCE_USD),
        "{plan}"
    );

    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
    p.json(&["provision", "--instances", "2", "--wait", "--json"]);

    let r = p.json(&["provision", "--instances", "5", "--dry-run", "--json"]);
    assert_eq!(r["changed"], true);
    assert!(
        close(&r["cost"]["current"]["total"], 2.0 * ONE_INSTANCE_USD),
        "{r}"
    );
    assert!(
        close(&r["cost"]["target"]["total"], 5.0 * ONE_INSTANCE_USD),
        "{r}"
    );
    assert!(close(&r["cost"]["change"], 3.0 * ONE_INSTANCE_USD), "{r}");
    let human = p.fcctl(&["provision", "--instances", "5", "--dry-run"]);
    let h = text(&human);
    assert!(
        h.contains("cost now:    USD 120.89 a month (2 provisioned"),
        "{h}"
    );
    assert!(
        h.contains("cost target: USD 302.22 a month (5 provisioned"),
        "{h}"
    );
    assert!(h.contains("change:      +181.33 USD a month"), "{h}");
    // A real run reports no estimate.
    assert!(p.json(&["provision", "--instances", "2", "--json"])["cost"].is_null());

    let st = p.json(&["status", "--json"]);
    assert!(close(&st["cost"]["total"], 2.0 * ONE_INSTANCE_USD), "{st}");
    assert!(text(&p.fcctl(&["status"])).contains("cost       USD 120.89 a month (2 provisioned"),);
}
