//! End-to-end tests of the RPC-style products (VPC, ECS, NAS, RAM): the emulator on ephemeral
//! ports in a temp dir, driven over HTTP with ACS3-signed `POST /?<params>` requests.

mod common;

use bytes::Bytes;
use common::*;
use emulator::{Config, Faults, sign};
use http_body_util::Full;
use serde_json::{Value, json};
use std::time::Duration;

struct Rpc {
    endpoint: String,
    version: &'static str,
    ak: String,
    secret: String,
    client: HttpClient,
}

impl Rpc {
    fn new(info: &emulator::Info, product: &str) -> Rpc {
        let (endpoint, version) = match product {
            "vpc" => (&info.vpc_endpoint, "2016-04-28"),
            "ecs" => (&info.ecs_endpoint, "2014-05-26"),
            "nas" => (&info.nas_endpoint, "2017-06-26"),
            "ram" => (&info.ram_endpoint, "2015-05-01"),
            _ => unreachable!(),
        };
        Rpc {
            endpoint: endpoint.clone(),
            version,
            ak: info.access_key_id.clone(),
            secret: info.access_key_secret.clone(),
            client: client(),
        }
    }

    async fn call(&self, action: &str, params: &[(&str, &str)]) -> Resp {
        let query: String = params
            .iter()
            .map(|(k, v)| format!("{}={}", sign::rfc3986(k), sign::rfc3986(v)))
            .collect::<Vec<_>>()
            .join("&");
        let host = self.endpoint.trim_start_matches("http://");
        let hs = sign::acs3_sign_rpc(
            host,
            &query,
            action,
            self.version,
            &self.ak,
            &self.secret,
            &acs_date(0),
        );
        let mut b = http::Request::post(format!("{}/?{query}", self.endpoint));
        for (k, v) in hs {
            b = b.header(k, v);
        }
        send(&self.client, b.body(Full::new(Bytes::new())).unwrap()).await
    }

    /// Calls and expects 200; returns the JSON.
    async fn ok(&self, action: &str, params: &[(&str, &str)]) -> Value {
        let r = self.call(action, params).await;
        assert_eq!(r.status, 200, "{action}: {}", r.json());
        let j = r.json();
        assert!(j["RequestId"].is_string(), "{action}: {j}");
        j
    }

    /// Calls and expects an error; returns (status, code).
    async fn err(&self, action: &str, params: &[(&str, &str)]) -> (u16, String) {
        let r = self.call(action, params).await;
        let j = r.json();
        assert!(r.status >= 400, "{action} succeeded: {j}");
        assert!(
            j["RequestId"].is_string() && j["Message"].is_string(),
            "{j}"
        );
        (r.status, j["Code"].as_str().unwrap_or_default().to_string())
    }
}

async fn start_delay(dir: &std::path::Path, delay: Duration) -> emulator::Emulator {
    start_with(Config {
        data_dir: dir.to_path_buf(),
        infra_delay: delay,
        attach_delay: Duration::ZERO,
        ..Config::default()
    })
    .await
}

const R: (&str, &str) = ("RegionId", "cn-shenzhen");
const APP: [(&str, &str); 2] = [("Tag.1.Key", "fcctl:app"), ("Tag.1.Value", "cat-dog")];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vpc_ecs_nas_create_find_by_tag_and_delete_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_delay(dir.path(), Duration::ZERO).await;
    let info = emu.info().clone();
    let (vpc, ecs, nas) = (
        Rpc::new(&info, "vpc"),
        Rpc::new(&info, "ecs"),
        Rpc::new(&info, "nas"),
    );

    let zones = vpc.ok("DescribeZones", &[R]).await;
    assert_eq!(zones["Zones"]["Zone"].as_array().unwrap().len(), 3);
    let nas_zones = nas.ok("DescribeZones", &[R]).await;
    let capacity_nfs: Vec<&str> = nas_zones["Zones"]["Zone"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|z| {
            z["InstanceTypes"]["InstanceType"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["StorageType"] == "Capacity" && t["ProtocolType"] == "nfs")
        })
        .map(|z| z["ZoneId"].as_str().unwrap())
        .collect();
    assert_eq!(capacity_nfs, ["cn-shenzhen-b"], "{nas_zones}");

    let mut p = vec![
        R,
        ("CidrBlock", "10.0.0.0/16"),
        ("VpcName", "fcctl-cat-dog"),
    ];
    p.extend(APP);
    p.push(("ClientToken", "tok-vpc"));
    let vpc_id = vpc.ok("CreateVpc", &p).await["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(vpc_id.starts_with("vpc-"));
    let again = vpc.ok("CreateVpc", &p).await;
    assert_eq!(
        again["VpcId"],
        vpc_id.as_str(),
        "same ClientToken, same VPC"
    );

    let mut p = vec![
        R,
        ("VpcId", vpc_id.as_str()),
        ("ZoneId", "cn-shenzhen-b"),
        ("CidrBlock", "10.0.1.0/24"),
    ];
    p.extend(APP);
    let vsw = vpc.ok("CreateVSwitch", &p).await["VSwitchId"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, c) = vpc
        .err(
            "CreateVSwitch",
            &[
                R,
                ("VpcId", &vpc_id),
                ("ZoneId", "cn-shenzhen-a"),
                ("CidrBlock", "10.0.1.128/25"),
            ],
        )
        .await;
    assert_eq!((s, c.as_str()), (400, "InvalidCidrBlock.Overlapped"));
    let (s, c) = vpc
        .err(
            "CreateVSwitch",
            &[
                R,
                ("VpcId", &vpc_id),
                ("ZoneId", "cn-shenzhen-a"),
                ("CidrBlock", "192.168.0.0/24"),
            ],
        )
        .await;
    assert_eq!((s, c.as_str()), (400, "InvalidCidrBlock.Malformed"));

    let mut p = vec![
        R,
        ("VpcId", vpc_id.as_str()),
        ("SecurityGroupName", "fcctl-cat-dog"),
    ];
    p.extend(APP);
    let sg = ecs.ok("CreateSecurityGroup", &p).await["SecurityGroupId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut p = vec![
        ("FileSystemType", "standard"),
        ("ProtocolType", "NFS"),
        ("StorageType", "Capacity"),
        ("ClientToken", "tok-fs"),
    ];
    p.extend(APP);
    let fs = nas.ok("CreateFileSystem", &p).await["FileSystemId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        nas.ok("CreateFileSystem", &p).await["FileSystemId"],
        fs.as_str()
    );
    assert!(info.data_dir.join("nas-fs").join(&fs).is_dir());
    let (s, c) = nas
        .err(
            "CreateFileSystem",
            &[
                ("ProtocolType", "NFS"),
                ("StorageType", "Capacity"),
                ("ZoneId", "cn-shenzhen-a"),
            ],
        )
        .await;
    assert_eq!((s, c.as_str()), (400, "InvalidZoneId.NotSupported"));

    let mt = nas
        .ok(
            "CreateMountTarget",
            &[
                ("FileSystemId", &fs),
                ("NetworkType", "Vpc"),
                ("VpcId", &vpc_id),
                ("VSwitchId", &vsw),
                ("AccessGroupName", "DEFAULT_VPC_GROUP_NAME"),
            ],
        )
        .await["MountTargetDomain"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        mt.starts_with(&format!("{fs}-")) && mt.ends_with(".cn-shenzhen.nas.aliyuncs.com"),
        "{mt}"
    );

    // Found by tag, from the cloud's state.
    let mut p = vec![R];
    p.extend(APP);
    let vpcs = vpc.ok("DescribeVpcs", &p).await;
    assert_eq!(vpcs["TotalCount"], 1);
    let v = &vpcs["Vpcs"]["Vpc"][0];
    assert_eq!(v["Status"], "Available");
    assert_eq!(v["VSwitchIds"]["VSwitchId"][0], vsw.as_str());
    assert_eq!(v["Tags"]["Tag"][0]["Value"], "cat-dog");
    let vsws = vpc.ok("DescribeVSwitches", &p).await;
    assert_eq!(vsws["VSwitches"]["VSwitch"][0]["ZoneId"], "cn-shenzhen-b");
    let sgs = ecs.ok("DescribeSecurityGroups", &p).await;
    assert_eq!(
        sgs["SecurityGroups"]["SecurityGroup"][0]["SecurityGroupId"],
        sg.as_str()
    );
    assert_eq!(
        sgs["SecurityGroups"]["SecurityGroup"][0]["Tags"]["Tag"][0]["TagKey"],
        "fcctl:app"
    );
    let fss = nas.ok("DescribeFileSystems", &APP).await;
    assert_eq!(fss["TotalCount"], 1);
    assert_eq!(fss["FileSystems"]["FileSystem"][0]["Status"], "Running");
    let mut other = vec![R, ("Tag.1.Key", "fcctl:app"), ("Tag.1.Value", "other")];
    assert_eq!(vpc.ok("DescribeVpcs", &other).await["TotalCount"], 0);
    other.remove(0);
    assert_eq!(nas.ok("DescribeFileSystems", &other).await["TotalCount"], 0);
    let mts = nas
        .ok("DescribeMountTargets", &[("FileSystemId", &fs)])
        .await;
    assert_eq!(mts["MountTargets"]["MountTarget"][0]["Status"], "Active");
    assert_eq!(mts["MountTargets"]["MountTarget"][0]["VswId"], vsw.as_str());

    // Deletes refused while dependents exist, then in order.
    assert_eq!(
        vpc.err("DeleteVpc", &[R, ("VpcId", &vpc_id)]).await,
        (400, "DependencyViolation.VSwitch".into())
    );
    assert_eq!(
        vpc.err("DeleteVSwitch", &[R, ("VSwitchId", &vsw)]).await,
        (400, "DependencyViolation".into())
    );
    assert_eq!(
        nas.err("DeleteFileSystem", &[("FileSystemId", &fs)]).await,
        (400, "OperationDenied.HasMountTargets".into())
    );
    nas.ok(
        "DeleteMountTarget",
        &[("FileSystemId", &fs), ("MountTargetDomain", &mt)],
    )
    .await;
    assert_eq!(
        nas.err(
            "DeleteMountTarget",
            &[("FileSystemId", &fs), ("MountTargetDomain", &mt)]
        )
        .await,
        (404, "InvalidMountTarget.NotFound".into())
    );
    nas.ok("DeleteFileSystem", &[("FileSystemId", &fs)]).await;
    assert!(!info.data_dir.join("nas-fs").join(&fs).exists());
    vpc.ok("DeleteVSwitch", &[R, ("VSwitchId", &vsw)]).await;
    assert_eq!(
        vpc.err("DeleteVpc", &[R, ("VpcId", &vpc_id)]).await,
        (400, "DependencyViolation.SecurityGroup".into())
    );
    ecs.ok("DeleteSecurityGroup", &[R, ("SecurityGroupId", &sg)])
        .await;
    vpc.ok("DeleteVpc", &[R, ("VpcId", &vpc_id)]).await;
    assert_eq!(
        vpc.err("DeleteVpc", &[R, ("VpcId", &vpc_id)]).await,
        (404, "InvalidVpcId.NotFound".into())
    );
    assert_eq!(vpc.ok("DescribeVpcs", &p).await["TotalCount"], 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_resources_are_pending_until_the_delay_and_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_delay(dir.path(), Duration::from_secs(3600)).await;
    let vpc = Rpc::new(emu.info(), "vpc");
    let nas = Rpc::new(emu.info(), "nas");
    let vpc_id = vpc.ok("CreateVpc", &[R]).await["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = vpc.ok("DescribeVpcs", &[R, ("VpcId", &vpc_id)]).await;
    assert_eq!(got["Vpcs"]["Vpc"][0]["Status"], "Pending");
    assert_eq!(got["Vpcs"]["Vpc"][0]["CidrBlock"], "172.16.0.0/12");
    let (s, c) = vpc
        .err(
            "CreateVSwitch",
            &[
                R,
                ("VpcId", &vpc_id),
                ("ZoneId", "cn-shenzhen-b"),
                ("CidrBlock", "172.16.0.0/24"),
            ],
        )
        .await;
    assert_eq!((s, c.as_str()), (400, "IncorrectVpcStatus"));
    let fs = nas
        .ok(
            "CreateFileSystem",
            &[("ProtocolType", "NFS"), ("StorageType", "Performance")],
        )
        .await["FileSystemId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = nas
        .ok("DescribeFileSystems", &[("FileSystemId", &fs)])
        .await;
    assert_eq!(got["FileSystems"]["FileSystem"][0]["Status"], "Pending");
    assert_eq!(
        got["FileSystems"]["FileSystem"][0]["ZoneId"],
        "cn-shenzhen-a"
    );
    emu.shutdown().await;

    // Restarted without the delay: the same resources, now usable.
    let emu = start_delay(dir.path(), Duration::ZERO).await;
    let vpc = Rpc::new(emu.info(), "vpc");
    let nas = Rpc::new(emu.info(), "nas");
    let got = vpc.ok("DescribeVpcs", &[R, ("VpcId", &vpc_id)]).await;
    assert_eq!(got["TotalCount"], 1, "{got}");
    // The delay is fixed at creation: still Pending for the hour it was given.
    assert_eq!(got["Vpcs"]["Vpc"][0]["Status"], "Pending");
    assert_eq!(nas.ok("DescribeFileSystems", &[]).await["TotalCount"], 1);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_refuses_bad_signatures_versions_actions_and_denied_calls() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_with(Config {
        data_dir: dir.path().to_path_buf(),
        faults: "deny=nas:CreateFileSystem,ram:*".parse::<Faults>().unwrap(),
        ..Config::default()
    })
    .await;
    let info = emu.info().clone();
    let mut vpc = Rpc::new(&info, "vpc");
    let nas = Rpc::new(&info, "nas");

    let r = nas
        .call(
            "CreateFileSystem",
            &[("ProtocolType", "NFS"), ("StorageType", "Capacity")],
        )
        .await;
    assert_eq!(r.status, 403);
    let j = r.json();
    assert_eq!(j["Code"], "Forbidden.RAM");
    assert!(
        j["Message"]
            .as_str()
            .unwrap()
            .contains("nas:CreateFileSystem"),
        "{j}"
    );
    assert_eq!(
        j["AccessDeniedDetail"]["AuthAction"],
        "nas:CreateFileSystem"
    );
    assert!(j["HostId"].is_string() && j["Recommend"].is_string(), "{j}");
    assert_eq!(
        nas.ok("DescribeFileSystems", &[]).await["TotalCount"],
        0,
        "a denied create makes nothing"
    );
    let ram = Rpc::new(&info, "ram");
    assert_eq!(
        ram.err("GetRole", &[("RoleName", "x")]).await,
        (403, "Forbidden.RAM".into())
    );

    assert_eq!(
        vpc.err("CreateNatGateway", &[R]).await,
        (404, "InvalidAction.NotFound".into())
    );
    assert_eq!(
        vpc.err("DescribeVpcs", &[]).await,
        (400, "MissingRegionId".into())
    );
    assert_eq!(
        vpc.err("DescribeVpcs", &[R, ("PageSize", "51")]).await,
        (400, "InvalidParameter".into())
    );
    vpc.version = "2014-05-26";
    assert_eq!(
        vpc.err("DescribeVpcs", &[R]).await,
        (400, "InvalidVersion".into())
    );
    vpc.version = "2016-04-28";
    vpc.secret = "wrong".into();
    assert_eq!(
        vpc.err("DescribeVpcs", &[R]).await,
        (400, "SignatureDoesNotMatch".into())
    );
    vpc.ak = "LTAI5tUnknown".into();
    assert_eq!(
        vpc.err("DescribeVpcs", &[R]).await,
        (404, "InvalidAccessKeyId.NotFound".into())
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ram_roles_and_policies() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let ram = Rpc::new(emu.info(), "ram");
    let trust = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["fc.aliyuncs.com"]}}],"Version":"1"}"#;
    let role = ram
        .ok(
            "CreateRole",
            &[
                ("RoleName", "fcctl-Cat-Dog"),
                ("AssumeRolePolicyDocument", trust),
            ],
        )
        .await;
    assert_eq!(
        role["Role"]["Arn"],
        format!("acs:ram::{}:role/fcctl-cat-dog", emu.info().account_id)
    );
    assert_eq!(
        ram.err(
            "CreateRole",
            &[
                ("RoleName", "FCCTL-cat-dog"),
                ("AssumeRolePolicyDocument", trust)
            ]
        )
        .await,
        (409, "EntityAlreadyExists.Role".into())
    );
    assert_eq!(
        ram.err(
            "CreateRole",
            &[("RoleName", "r2"), ("AssumeRolePolicyDocument", "{}")]
        )
        .await,
        (400, "MalformedPolicyDocument".into())
    );
    let attach = |name: &'static str| {
        [
            ("RoleName", "fcctl-cat-dog"),
            ("PolicyType", "System"),
            ("PolicyName", name),
        ]
    };
    ram.ok("AttachPolicyToRole", &attach("AliyunLogFullAccess"))
        .await;
    ram.ok("AttachPolicyToRole", &attach("AliyunNASReadOnlyAccess"))
        .await;
    assert_eq!(
        ram.err("AttachPolicyToRole", &attach("AliyunLogFullAccess"))
            .await,
        (409, "EntityAlreadyExists.Role.Policy".into())
    );
    assert_eq!(
        ram.err("AttachPolicyToRole", &attach("NoSuchPolicy")).await,
        (404, "EntityNotExist.Policy".into())
    );
    let list = ram
        .ok("ListPoliciesForRole", &[("RoleName", "fcctl-cat-dog")])
        .await;
    let names: Vec<&str> = list["Policies"]["Policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AliyunLogFullAccess", "AliyunNASReadOnlyAccess"]);
    assert_eq!(
        ram.err("DeleteRole", &[("RoleName", "fcctl-cat-dog")])
            .await,
        (409, "DeleteConflict.Role.Policy".into())
    );
    ram.ok("DetachPolicyFromRole", &attach("AliyunLogFullAccess"))
        .await;
    ram.ok("DetachPolicyFromRole", &attach("AliyunNASReadOnlyAccess"))
        .await;
    assert_eq!(
        ram.err("DetachPolicyFromRole", &attach("AliyunLogFullAccess"))
            .await,
        (404, "EntityNotExist.Role.Policy".into())
    );
    ram.ok("DeleteRole", &[("RoleName", "fcctl-cat-dog")]).await;
    assert_eq!(
        ram.err("GetRole", &[("RoleName", "fcctl-cat-dog")]).await,
        (404, "EntityNotExist.Role".into())
    );
    let slr = ram
        .ok(
            "CreateServiceLinkedRole",
            &[("ServiceName", "fc.aliyuncs.com")],
        )
        .await;
    assert_eq!(slr["Role"]["RoleName"], "AliyunServiceRoleForFC");
    assert_eq!(slr["Role"]["IsServiceLinkedRole"], true);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_mounting_a_mount_target_sees_its_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_delay(dir.path(), Duration::ZERO).await;
    let info = emu.info().clone();
    let (vpc, nas) = (Rpc::new(&info, "vpc"), Rpc::new(&info, "nas"));
    let vpc_id = vpc
        .ok("CreateVpc", &[R, ("CidrBlock", "10.0.0.0/16")])
        .await["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let vsw = vpc
        .ok(
            "CreateVSwitch",
            &[
                R,
                ("VpcId", &vpc_id),
                ("ZoneId", "cn-shenzhen-b"),
                ("CidrBlock", "10.0.0.0/24"),
            ],
        )
        .await["VSwitchId"]
        .as_str()
        .unwrap()
        .to_string();
    let fs = nas
        .ok(
            "CreateFileSystem",
            &[("ProtocolType", "NFS"), ("StorageType", "Capacity")],
        )
        .await["FileSystemId"]
        .as_str()
        .unwrap()
        .to_string();
    let mt = nas
        .ok(
            "CreateMountTarget",
            &[
                ("FileSystemId", &fs),
                ("NetworkType", "Vpc"),
                ("VpcId", &vpc_id),
                ("VSwitchId", &vsw),
                ("AccessGroupName", "DEFAULT_VPC_GROUP_NAME"),
            ],
        )
        .await["MountTargetDomain"]
        .as_str()
        .unwrap()
        .to_string();
    let app_dir = info.data_dir.join("nas-fs").join(&fs).join("cat-dog");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(app_dir.join("marker.txt"), "from-the-file-system").unwrap();
    std::fs::write(info.nas_dir.join("marker.txt"), "from-auto").unwrap();

    let fc = Fc::new(&info);
    let mut body = function_body("mounted", 1);
    body["nasConfig"] = json!({"mountPoints": [
        {"serverAddr": format!("{mt}:/cat-dog"), "mountDir": "/mnt/auto"}
    ]});
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions",
            "",
            "CreateFunction",
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions/mounted/invocations",
            "",
            "InvokeFunction",
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json()["nas_marker"],
        "from-the-file-system",
        "{}",
        r.json()
    );
    emu.shutdown().await;
}
