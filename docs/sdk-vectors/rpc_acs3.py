#!/usr/bin/env python3
"""Print RPC-style ACS3 signing vectors made by the official SDKs (VPC, ECS, NAS) as JSON.

Run by `aliyun::rpc` tests at test time (never copied into the repo): the real SDK clients
build and sign each request; only the clock, the nonce and the user agent are fixed and the
transport is replaced by a recorder, so nothing leaves the machine.
Needs the packages pinned in requirements-dev.txt (scripts/setup installs them in .venv).
"""
import io
import json
import sys

from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_openapi.utils import Utils as OAUtils
from darabonba.core import DaraCore
from darabonba.response import DaraResponse

AK_ID = "LTAI5tFcctlRpcKeyId01"
AK_SECRET = "FcctlRpcSecret0123456789abcdef"
STS_TOKEN = "CAIS+rpc/token==fcctl"
DATE = "2024-05-20T08:30:00Z"
NONCE = "0123456789abcdef0123456789abcdef"
UA = "AlibabaCloud (Linux; x86_64) Python/3.11 Core/0.4 TeaDSL/2"

OAUtils.get_timestamp = staticmethod(lambda: DATE)
OAUtils.get_nonce = staticmethod(lambda: NONCE)
OAUtils.get_user_agent = staticmethod(lambda ua=None: UA)

captured = []


def record(request, runtime_option=None):
    captured.append({
        "method": request.method,
        "pathname": request.pathname,
        "query": {k: v for k, v in (request.query or {}).items() if v is not None},
        "headers": dict(request.headers),
        "body": request.body if isinstance(request.body, str) else (request.body or b"").decode(),
    })
    resp = DaraResponse()
    resp.status_code = 200
    resp.headers = {"content-type": "application/json"}
    resp.body = io.BytesIO(b"{}")
    return resp


DaraCore.do_action = staticmethod(record)


def config(endpoint, token=None):
    c = open_api_models.Config(access_key_id=AK_ID, access_key_secret=AK_SECRET,
                               security_token=token, region_id="cn-shenzhen")
    c.endpoint = endpoint
    return c


def main():
    from alibabacloud_ecs20140526 import models as ecs
    from alibabacloud_ecs20140526.client import Client as Ecs
    from alibabacloud_nas20170626 import models as nas
    from alibabacloud_nas20170626.client import Client as Nas
    from alibabacloud_vpc20160428 import models as vpc
    from alibabacloud_vpc20160428.client import Client as Vpc

    calls = [
        ("vpc", "2016-04-28", lambda c: c.describe_vpcs(vpc.DescribeVpcsRequest(
            region_id="cn-shenzhen", page_number=1, page_size=50,
            tag=[vpc.DescribeVpcsRequestTag(key="fcctl:app", value="cat-dog")]))),
        ("vpc", "2016-04-28", lambda c: c.create_vpc(vpc.CreateVpcRequest(
            region_id="cn-shenzhen", cidr_block="10.0.0.0/16", vpc_name="fcctl cat/dog*~",
            client_token="tok-1",
            tag=[vpc.CreateVpcRequestTag(key="fcctl:app", value="cat-dog")]))),
        ("ecs", "2014-05-26", lambda c: c.create_security_group(ecs.CreateSecurityGroupRequest(
            region_id="cn-shenzhen", vpc_id="vpc-1", security_group_name="fcctl-cat-dog",
            client_token="tok-2",
            tag=[ecs.CreateSecurityGroupRequestTag(key="fcctl:app", value="cat-dog")]))),
        ("nas", "2017-06-26", lambda c: c.create_mount_target(nas.CreateMountTargetRequest(
            file_system_id="0a1b2c", network_type="Vpc", vpc_id="vpc-1", v_switch_id="vsw-1",
            access_group_name="DEFAULT_VPC_GROUP_NAME"))),
    ]
    clients = {"vpc": Vpc, "ecs": Ecs, "nas": Nas}
    out = []
    for sts in (False, True):
        for product, version, call in calls:
            host = f"{product}.cn-shenzhen.aliyuncs.com"
            captured.clear()
            call(clients[product](config(host, STS_TOKEN if sts else None)))
            (req,) = captured
            out.append({"product": product, "version": version, "sts": sts, **req})
    json.dump({"access_key_id": AK_ID, "access_key_secret": AK_SECRET,
               "security_token": STS_TOKEN, "date": DATE, "nonce": NONCE,
               "user_agent": UA, "requests": out}, sys.stdout, indent=1)


main()
