"""The RPC products (VPC, ECS, NAS, RAM) driven by Alibaba Cloud's official Python SDKs.

The whole infra chain fcctl's `auto` builds: VPC -> Available -> vSwitch in a zone NAS sells
-> security group -> NAS file system -> Running -> mount target -> Active -> found by tag ->
deleted in reverse order; plus what the cloud refuses (dependency violations, a denied action,
a bad signature).
"""
import json
import signal
import subprocess
import tempfile
import time

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_nas20170626 import models as nas_models
from alibabacloud_nas20170626.client import Client as NasClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi import utils_models as oa_models
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient

from conftest import _binary

APP = ("fcctl:app", "conformance")
TRUST = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                   "Principal": {"Service": ["fc.aliyuncs.com"]}}], "Version": "1"})


def client(cls, info, key, secret=None):
    cfg = oa_models.Config(
        access_key_id=info["access_key_id"],
        access_key_secret=secret or info["access_key_secret"],
        region_id=info["region"],
        endpoint=info[key].replace("http://", ""),
        protocol="http",
    )
    return cls(cfg)


def code_of(excinfo):
    return getattr(excinfo.value, "code", None)


def status_of(excinfo):
    return getattr(excinfo.value, "status_code", None) or getattr(excinfo.value, "statusCode", None)


def wait_for(what, probe, want, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got == want:
            return
        assert time.monotonic() < deadline, f"{what}: still {got}, wanted {want}"
        time.sleep(0.1)


def test_vpc_ecs_nas_infra_chain(emulator):
    region = emulator["region"]
    vpc = client(VpcClient, emulator, "vpc_endpoint")
    ecs = client(EcsClient, emulator, "ecs_endpoint")
    nas = client(NasClient, emulator, "nas_endpoint")

    vpc_zones = [z.zone_id for z in vpc.describe_zones(vpc_models.DescribeZonesRequest(region_id=region)).body.zones.zone]
    nas_zones = nas.describe_zones(nas_models.DescribeZonesRequest(region_id=region)).body.zones.zone
    sells = {z.zone_id: {(t.storage_type, t.protocol_type.upper()) for t in z.instance_types.instance_type}
             for z in nas_zones}
    zone = next(z for z in vpc_zones if ("Capacity", "NFS") in sells.get(z, set()))
    assert any(("Capacity", "NFS") not in s for s in sells.values()), "a zone sells less, so picking matters"

    token = "conformance-vpc-1"
    created = vpc.create_vpc(vpc_models.CreateVpcRequest(
        region_id=region, cidr_block="10.8.0.0/16", vpc_name="fcctl-conformance", client_token=token,
        tag=[vpc_models.CreateVpcRequestTag(key=APP[0], value=APP[1])])).body
    vpc_id = created.vpc_id
    assert created.request_id and created.vrouter_id and created.route_table_id
    again = vpc.create_vpc(vpc_models.CreateVpcRequest(
        region_id=region, cidr_block="10.8.0.0/16", vpc_name="fcctl-conformance", client_token=token,
        tag=[vpc_models.CreateVpcRequestTag(key=APP[0], value=APP[1])])).body
    assert again.vpc_id == vpc_id, "ClientToken makes CreateVpc idempotent"

    def vpc_status():
        return vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=region, vpc_id=vpc_id)).body.vpcs.vpc[0].status
    assert vpc_status() == "Pending"
    wait_for("VPC", vpc_status, "Available")

    vsw_id = vpc.create_vswitch(vpc_models.CreateVSwitchRequest(
        region_id=region, vpc_id=vpc_id, zone_id=zone, cidr_block="10.8.1.0/24", v_switch_name="fcctl-conformance",
        tag=[vpc_models.CreateVSwitchRequestTag(key=APP[0], value=APP[1])])).body.v_switch_id

    def vsw_status():
        return vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(
            region_id=region, v_switch_id=vsw_id)).body.v_switches.v_switch[0].status
    wait_for("vSwitch", vsw_status, "Available")

    sg_id = ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(
        region_id=region, vpc_id=vpc_id, security_group_name="fcctl-conformance",
        tag=[ecs_models.CreateSecurityGroupRequestTag(key=APP[0], value=APP[1])])).body.security_group_id

    fs_id = nas.create_file_system(nas_models.CreateFileSystemRequest(
        file_system_type="standard", protocol_type="NFS", storage_type="Capacity", zone_id=zone,
        tag=[nas_models.CreateFileSystemRequestTag(key=APP[0], value=APP[1])])).body.file_system_id

    def fs_status():
        return nas.describe_file_systems(nas_models.DescribeFileSystemsRequest(
            file_system_id=fs_id)).body.file_systems.file_system[0].status
    wait_for("file system", fs_status, "Running")

    domain = nas.create_mount_target(nas_models.CreateMountTargetRequest(
        file_system_id=fs_id, network_type="Vpc", vpc_id=vpc_id, v_switch_id=vsw_id,
        access_group_name="DEFAULT_VPC_GROUP_NAME")).body.mount_target_domain
    assert domain.startswith(fs_id + "-") and domain.endswith(f".{region}.nas.aliyuncs.com")

    def mt_status():
        return nas.describe_mount_targets(nas_models.DescribeMountTargetsRequest(
            file_system_id=fs_id)).body.mount_targets.mount_target[0].status
    wait_for("mount target", mt_status, "Active")

    # Found by tag alone, as a re-run without local state finds them.
    vpcs = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(
        region_id=region, tag=[vpc_models.DescribeVpcsRequestTag(key=APP[0], value=APP[1])])).body
    assert vpcs.total_count == 1 and vpcs.vpcs.vpc[0].vpc_id == vpc_id
    assert vpcs.vpcs.vpc[0].tags.tag[0].key == APP[0]
    assert vsw_id in vpcs.vpcs.vpc[0].v_switch_ids.v_switch_id
    vsws = vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(
        region_id=region, tag=[vpc_models.DescribeVSwitchesRequestTag(key=APP[0], value=APP[1])])).body
    assert [w.v_switch_id for w in vsws.v_switches.v_switch] == [vsw_id]
    sgs = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(
        region_id=region, max_results=100,
        tag=[ecs_models.DescribeSecurityGroupsRequestTag(key=APP[0], value=APP[1])])).body
    assert [g.security_group_id for g in sgs.security_groups.security_group] == [sg_id]
    assert sgs.security_groups.security_group[0].tags.tag[0].tag_value == APP[1]
    fss = nas.describe_file_systems(nas_models.DescribeFileSystemsRequest(
        tag=[nas_models.DescribeFileSystemsRequestTag(key=APP[0], value=APP[1])])).body
    assert [f.file_system_id for f in fss.file_systems.file_system] == [fs_id]
    assert fss.file_systems.file_system[0].storage_type == "Capacity"
    none = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(
        region_id=region, tag=[vpc_models.DescribeVpcsRequestTag(key=APP[0], value="another-app")])).body
    assert none.total_count == 0

    # Dependency violations, then the deletes in order.
    with pytest.raises(Exception) as ei:
        vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=region, vpc_id=vpc_id))
    assert code_of(ei) == "DependencyViolation.VSwitch" and status_of(ei) == 400
    with pytest.raises(Exception) as ei:
        nas.delete_file_system(nas_models.DeleteFileSystemRequest(file_system_id=fs_id))
    assert code_of(ei) == "OperationDenied.HasMountTargets"
    with pytest.raises(Exception) as ei:
        vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(region_id=region, v_switch_id=vsw_id))
    assert code_of(ei) == "DependencyViolation"

    nas.delete_mount_target(nas_models.DeleteMountTargetRequest(file_system_id=fs_id, mount_target_domain=domain))
    nas.delete_file_system(nas_models.DeleteFileSystemRequest(file_system_id=fs_id))
    vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(region_id=region, v_switch_id=vsw_id))
    with pytest.raises(Exception) as ei:
        vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=region, vpc_id=vpc_id))
    assert code_of(ei) == "DependencyViolation.SecurityGroup"
    ecs.delete_security_group(ecs_models.DeleteSecurityGroupRequest(region_id=region, security_group_id=sg_id))
    vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=region, vpc_id=vpc_id))
    with pytest.raises(Exception) as ei:
        vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=region, vpc_id=vpc_id))
    assert code_of(ei) == "InvalidVpcId.NotFound" and status_of(ei) == 404
    assert vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(
        region_id=region, tag=[vpc_models.DescribeVpcsRequestTag(key=APP[0], value=APP[1])])).body.total_count == 0


def test_ram_role_with_system_policies(emulator):
    ram = client(RamClient, emulator, "ram_endpoint")
    role = ram.create_role(ram_models.CreateRoleRequest(
        role_name="fcctl-conformance", assume_role_policy_document=TRUST, description="conformance")).body.role
    assert role.arn == f"acs:ram::{emulator['account_id']}:role/fcctl-conformance"
    assert ram.get_role(ram_models.GetRoleRequest(role_name="fcctl-conformance")).body.role.role_id == role.role_id
    for name in ("AliyunLogFullAccess", "AliyunNASReadOnlyAccess"):
        ram.attach_policy_to_role(ram_models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name=name, role_name="fcctl-conformance"))
    listed = ram.list_policies_for_role(ram_models.ListPoliciesForRoleRequest(role_name="fcctl-conformance")).body
    assert [p.policy_name for p in listed.policies.policy] == ["AliyunLogFullAccess", "AliyunNASReadOnlyAccess"]
    with pytest.raises(Exception) as ei:
        ram.delete_role(ram_models.DeleteRoleRequest(role_name="fcctl-conformance"))
    assert code_of(ei) == "DeleteConflict.Role.Policy" and status_of(ei) == 409
    for name in ("AliyunLogFullAccess", "AliyunNASReadOnlyAccess"):
        ram.detach_policy_from_role(ram_models.DetachPolicyFromRoleRequest(
            policy_type="System", policy_name=name, role_name="fcctl-conformance"))
    ram.delete_role(ram_models.DeleteRoleRequest(role_name="fcctl-conformance"))
    with pytest.raises(Exception) as ei:
        ram.get_role(ram_models.GetRoleRequest(role_name="fcctl-conformance"))
    assert code_of(ei) == "EntityNotExist.Role" and status_of(ei) == 404
    slr = ram.create_service_linked_role(ram_models.CreateServiceLinkedRoleRequest(service_name="fc.aliyuncs.com")).body.role
    assert slr.role_name == "AliyunServiceRoleForFC" and slr.is_service_linked_role


def test_rpc_bad_signature_is_refused(emulator):
    vpc = client(VpcClient, emulator, "vpc_endpoint", secret="definitely-wrong")
    with pytest.raises(Exception) as ei:
        vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=emulator["region"]))
    assert code_of(ei) == "SignatureDoesNotMatch" and status_of(ei) == 400


@pytest.fixture(scope="module")
def denying_emulator():
    data = tempfile.mkdtemp(prefix="fcctl-emu-deny-")
    p = subprocess.Popen([_binary(), "local", "start", "--port", "0", "--data-dir", data, "--json",
                          "--faults", "deny=nas:CreateFileSystem"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line, "emulator exited before printing its info line"
    yield json.loads(line)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()


def test_denied_action_is_forbidden_ram_naming_it(denying_emulator):
    nas = client(NasClient, denying_emulator, "nas_endpoint")
    with pytest.raises(Exception) as ei:
        nas.create_file_system(nas_models.CreateFileSystemRequest(
            file_system_type="standard", protocol_type="NFS", storage_type="Capacity"))
    assert code_of(ei) == "Forbidden.RAM" and status_of(ei) == 403
    assert "nas:CreateFileSystem" in str(ei.value)
    assert nas.describe_file_systems(nas_models.DescribeFileSystemsRequest()).body.total_count == 0
