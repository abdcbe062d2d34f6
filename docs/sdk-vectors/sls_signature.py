#!/usr/bin/env python3
"""Print SLS (Log Service) signing vectors made by the official aliyun-log-python-sdk as JSON.

Run by `aliyun::sls` tests at test time (never copied into the repo): the SDK's LogClient
builds and signs each request (its default signature, `LOG <id>:<hmac-sha1>`); only the clock
is fixed and the transport is replaced by a recorder, so nothing leaves the machine.
Needs aliyun-log-python-sdk (requirements-nodeps.txt; scripts/setup installs it in .venv).
"""
import json

from aliyun.log import LogClient
from aliyun.log.auth import AuthV1
from aliyun.log.index_config import IndexConfig, IndexKeyConfig, IndexLineConfig

AK_ID = "LTAI5tFcctlSlsKeyId01"
AK_SECRET = "FcctlSlsSecret0123456789abcdef"
STS_TOKEN = "CAIS+sls/token==fcctl"
DATE = "Mon, 20 May 2024 08:30:00 GMT"
ENDPOINT = "cn-shenzhen.log.aliyuncs.com"

AuthV1._getGMT = staticmethod(lambda: DATE)
captured = []
answers = {
    "GET /": {"projectName": "p", "description": "", "region": "cn-shenzhen", "owner": "1",
              "status": "Normal", "createTime": "1", "lastModifyTime": "1"},
    "GET /logstores/app": {"logstoreName": "app", "ttl": 7, "shardCount": 1,
                           "enable_tracking": False, "appendMeta": True, "autoSplit": True,
                           "maxSplitShard": 64},
    "GET /logstores/app/index": {"line": {"token": [" "]}},
    "GET /tags": {"nextToken": "", "tagResources": []},
}


def record(self, method, url, params, body, headers):
    captured.append({
        "method": method,
        "url": url,
        "params": {k: str(v) for k, v in (params or {}).items()},
        "headers": {k: str(v) for k, v in headers.items()},
        "body": (body or b"").decode(),
    })
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    answer = answers.get(f"{method} {path}", {})
    if method == "GET" and path == "/logstores/app" and "type" in (params or {}):
        answer = []
    return 200, json.dumps(answer).encode(), {"x-log-requestid": "R", "x-log-progress": "Complete"}


LogClient._getHttpResponse = record


def main():
    c = LogClient(ENDPOINT, AK_ID, AK_SECRET, source="fcctl")
    c._get_logs_v2_enabled = False  # the documented GET /logstores/{name}?type=log
    c.create_project("fcctl-cat-dog", "fcctl logs for cat-dog")
    c.get_project("fcctl-cat-dog")
    c.delete_project("fcctl-cat-dog")
    c.create_logstore("fcctl-cat-dog", "app", ttl=7, shard_count=1)
    c.get_logstore("fcctl-cat-dog", "app")
    c.create_index("fcctl-cat-dog", "app", IndexConfig(
        line_config=IndexLineConfig([",", " ", "\n"]),
        key_config_list={"request_id": IndexKeyConfig([",", " "])}))
    c.get_log("fcctl-cat-dog", "app", 1716193800, 1716194400,
              query='request_id: "1-abc" and error', reverse=True, offset=0, size=100)
    c.tag_resources("project", "fcctl-cat-dog", **{"fcctl:app": "cat-dog"})
    list(c.list_tag_resources("project", None, **{"fcctl:app": "cat-dog"}))
    sts = LogClient(ENDPOINT, AK_ID, AK_SECRET, securityToken=STS_TOKEN, source="fcctl")
    sts.get_project("fcctl-cat-dog")
    print(json.dumps({"access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                      "security_token": STS_TOKEN, "date": DATE, "requests": captured}))


if __name__ == "__main__":
    main()
