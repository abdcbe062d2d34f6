//! `auto` infrastructure on the cloud code path: created once, found by tag afterwards (also
//! without `target/`), never duplicated, and a missing permission named with its policy line.

use crate::support::{TestProject, text};

/// How many of each infra resource the emulator holds (its own state, not fcctl's view).
pub fn emulator_infra_counts(p: &TestProject) -> [usize; 5] {
    let Ok(bytes) = std::fs::read(p.data_dir().join("state.json")) else {
        return [0; 5]; // written at the first change
    };
    let state: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let infra = &state["infra"];
    let n = |k: &str| infra[k].as_object().map_or(0, |m| m.len());
    [
        n("vpcs"),
        n("vswitches"),
        n("securityGroups"),
        n("fileSystems"),
        n("mountTargets"),
    ]
}

fn created_kinds(report: &serde_json::Value) -> Vec<String> {
    report["infra"]["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Removes the project's work dir except the emulator's data (which lives inside it).
fn forget_local_state(p: &TestProject) {
    for e in std::fs::read_dir(p.work()).unwrap().flatten() {
        if e.file_name() != "local" {
            let path = e.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
}

#[test]
fn auto_infra_is_created_once_then_found_by_tag_even_without_target() {
    let p = TestProject::builder().connect_with_env().start();
    p.fake_build("a", "r-a");

    let plan = p.fcctl(&["deploy", "--dry-run", "--json"]);
    assert_eq!(plan.status.code(), Some(10), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let would: Vec<&str> = plan["infra"]["would_create"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        would,
        [
            "vpc",
            "vswitch",
            "security_group",
            "nas_file_system",
            "nas_mount_target",
            "sls_project",
            "sls_logstore",
            "service_linked_role"
        ],
        "{plan}"
    );
    assert_eq!(
        emulator_infra_counts(&p),
        [0; 5],
        "a dry run creates nothing"
    );

    let first = p.json(&["deploy", "--json"]);
    assert_eq!(
        created_kinds(&first),
        [
            "vpc",
            "vswitch",
            "security_group",
            "nas_file_system",
            "nas_mount_target",
            "sls_project",
            "sls_logstore",
            "service_linked_role"
        ],
        "{first}"
    );
    // SLS: CreateProject, TagResources, CreateLogStore, CreateIndex.
    assert_eq!(
        first["infra"]["write_calls"],
        serde_json::json!({"vpc": 2, "ecs": 1, "nas": 2, "ram": 1, "sls": 4}),
        "{first}"
    );
    assert_eq!(
        first["infra"]["ids"]["sls_project"], "fcctl-cat-dog-1234567890123456",
        "{first}"
    );
    let ids = first["infra"]["ids"].clone();
    assert_eq!(emulator_infra_counts(&p), [1; 5]);

    // The function runs in that network and mounts that file system's root.
    let f = p.json(&["status", "--json"]);
    assert_eq!(f["infra"]["vpc_id"], ids["vpc_id"], "{f}");
    assert_eq!(
        f["infra"]["nas_mount_target"], ids["nas_mount_target"],
        "{f}"
    );

    // Converged: nothing created, no write call to any product.
    let second = p.json(&["deploy", "--json"]);
    assert!(created_kinds(&second).is_empty(), "{second}");
    assert_eq!(
        second["infra"]["write_calls"],
        serde_json::json!({"vpc": 0, "ecs": 0, "nas": 0, "ram": 0, "sls": 0}),
        "{second}"
    );
    assert_eq!(second["infra"]["ids"], ids);

    // Without target/ (state.json, build output gone): found by tag from the cloud.
    forget_local_state(&p);
    p.fake_build("a", "r-a");
    let third = p.json(&["deploy", "--json"]);
    assert!(created_kinds(&third).is_empty(), "{third}");
    assert_eq!(third["infra"]["ids"], ids, "{third}");
    assert_eq!(emulator_infra_counts(&p), [1; 5]);
}

#[test]
fn a_denied_create_names_the_action_and_policy_line_and_reruns_adopt_what_exists() {
    let p = TestProject::builder()
        .connect_with_env()
        .faults("deny=nas:CreateFileSystem")
        .start();
    p.fake_build("a", "r-a");
    for run in 0..2 {
        let out = p.fcctl(&["deploy"]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(3), "run {run}: {all}");
        assert!(all.contains("Forbidden.RAM"), "{all}");
        assert!(
            all.contains(r#"{"Action":["nas:CreateFileSystem"],"Effect":"Allow","Resource":"*"}"#),
            "the hint names the policy line to add: {all}"
        );
        assert!(all.contains("fcctl doctor --policy"), "{all}");
        // The network made before the refusal is adopted by the next run, never doubled;
        // nothing of NAS exists, and no function was deployed on a half-made setup.
        assert_eq!(emulator_infra_counts(&p), [1, 1, 1, 0, 0], "run {run}");
        let st = p.json(&["status", "--json"]);
        assert_eq!(st["exists"], false, "{st}");
    }
}

#[test]
fn doctor_policy_lists_what_the_configured_features_need() {
    let p = TestProject::builder().start();
    let doc = p.json(&["doctor", "--policy", "--json"]);
    let actions: Vec<&str> = doc["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for a in [
        "fc:CreateFunction",
        "oss:PutObject",
        "vpc:CreateVpc",
        "ecs:CreateSecurityGroup",
        "nas:CreateFileSystem",
        "nas:CreateMountTarget",
    ] {
        assert!(actions.contains(&a), "{a} missing: {doc}");
    }
    assert_eq!(doc["Version"], "1");

    let explicit = TestProject::builder()
        .config(
            "app: cat-dog\nvpc:\n  vpc_id: vpc-1\n  vswitch_ids: [vsw-1]\n  security_group_id: sg-1\nnas:\n  server_addr: 'x.cn-shenzhen.nas.aliyuncs.com:/'\n",
        )
        .start();
    let doc = explicit.json(&["doctor", "--policy", "--json"]);
    let text = doc.to_string();
    assert!(
        !text.contains("vpc:CreateVpc") && !text.contains("nas:"),
        "{doc}"
    );
}

/// Creates a VPC with one vSwitch in `zone` and a security group, through fcctl's clients
/// (as a user's own network would exist); returns their ids.
fn own_network(p: &TestProject, zone: &str) -> (String, String, String) {
    use fcctl::aliyun::ecs::{CreateSecurityGroup, EcsClient};
    use fcctl::aliyun::vpc::{CreateVSwitch, CreateVpc, VpcClient};
    use fcctl::aliyun::{AccessKey, ClientOptions};
    let info = p.info.clone();
    let zone = zone.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
        let vpc = VpcClient::new(
            &info.vpc_endpoint,
            &info.region,
            key.clone(),
            ClientOptions::default(),
        )
        .unwrap();
        let ecs = EcsClient::new(
            &info.ecs_endpoint,
            &info.region,
            key,
            ClientOptions::default(),
        )
        .unwrap();
        rt.block_on(async {
            let v = vpc
                .create_vpc(&CreateVpc {
                    cidr_block: Some("192.168.0.0/16".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            // A new VPC is Pending for a moment, as on the cloud.
            let filter = fcctl::aliyun::vpc::VpcFilter {
                vpc_id: Some(v.vpc_id.clone()),
                ..Default::default()
            };
            while vpc.describe_vpcs(&filter).await.unwrap()[0].status
                != fcctl::aliyun::vpc::Status::Available
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let s = vpc
                .create_vswitch(&CreateVSwitch {
                    vpc_id: v.vpc_id.clone(),
                    zone_id: zone,
                    cidr_block: "192.168.1.0/24".into(),
                    v_switch_name: None,
                    description: None,
                    tags: vec![],
                    client_token: None,
                })
                .await
                .unwrap();
            let sw_filter = fcctl::aliyun::vpc::VSwitchFilter {
                v_switch_id: Some(s.v_switch_id.clone()),
                vpc_id: Some(v.vpc_id.clone()),
                ..Default::default()
            };
            while vpc.describe_vswitches(&sw_filter).await.unwrap()[0].status
                != fcctl::aliyun::vpc::Status::Available
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let g = ecs
                .create_security_group(&CreateSecurityGroup {
                    vpc_id: v.vpc_id.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            (v.vpc_id, s.v_switch_id, g.security_group_id)
        })
    })
    .join()
    .unwrap()
}

fn with_network(p: &TestProject, (vpc, vsw, sg): &(String, String, String), extra: &str) {
    std::fs::write(
        p.path().join("fcctl.yaml"),
        format!(
            "app: cat-dog\nvpc:\n  vpc_id: {vpc}\n  vswitch_ids: [{vsw}]\n  security_group_id: {sg}\n{extra}"
        ),
    )
    .unwrap();
}

#[test]
fn the_emulator_refuses_network_and_log_ids_fc_would_refuse() {
    let p = TestProject::builder().connect_with_env().start();
    p.fake_build("a", "r-a");
    let refused = |expect: &str| {
        let out = p.fcctl(&["deploy"]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(3), "{all}");
        assert!(all.contains(expect), "expected `{expect}`: {all}");
    };
    // Ids nobody issued (another account's, or deleted).
    with_network(
        &p,
        &("vpc-nope".into(), "vsw-nope".into(), "sg-nope".into()),
        "",
    );
    refused("vpc-nope");
    // A vSwitch in a zone the emulator's FC does not serve (it serves <region>-a and -b).
    let outside = own_network(&p, "cn-shenzhen-c");
    with_network(&p, &outside, "");
    refused("vSwitch is in unsupported zone");
    // A logstore that does not exist.
    let inside = own_network(&p, "cn-shenzhen-a");
    with_network(
        &p,
        &inside,
        "log:\n  project: nobody\n  logstore: nothing\n",
    );
    refused("logConfig");
    // The same network with logs off deploys.
    with_network(&p, &inside, "log: none\n");
    p.json(&["deploy", "--json"]);
}
