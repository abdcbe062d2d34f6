"""SLS (Log Service) conformance: aliyun-log-python-sdk drives the emulator's SLS endpoint.

The SDK sends to `<project>.<endpoint>` unless the endpoint is a bare IP without a port; the
emulator listens on 127.0.0.1:<port>, so the client is told the endpoint is an IP
(`_isRowIp`), which makes it send to the endpoint with the project in the Host header only,
exactly as it does for an IP endpoint on port 80.
"""
import json
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
from aliyun.log import GetLogsRequest, LogClient, LogException, LogItem, PutLogsRequest
from aliyun.log.index_config import IndexConfig, IndexKeyConfig, IndexLineConfig

from conftest import _binary

TOKENS = [",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">",
          "/", ":", "\n", "\t", "\r"]


def sls_client(info, secret=None):
    endpoint = info["sls_endpoint"].replace("http://", "")
    c = LogClient(endpoint, info["access_key_id"], secret or info["access_key_secret"],
                  source="conformance")
    c._isRowIp = True
    return c


def put(c, project, logstore, rows, compress=None, compress_type=None):
    items = []
    for t, contents in rows:
        item = LogItem(timestamp=t)
        item.set_contents(list(contents.items()))
        items.append(item)
    req = PutLogsRequest(project, logstore, topic="fcctl", logitems=items, compress=compress,
                         logtags=[("instance", "i-1")])
    if compress_type:
        req.set_compress_type(compress_type)
    c.put_logs(req)


def test_sls_projects_logstores_index_and_queries(emulator):
    c = sls_client(emulator)
    project, store = "fcctl-conformance", "app"
    c.create_project(project, "conformance project")
    with pytest.raises(LogException) as e:
        c.create_project(project, "again")
    assert (e.value.get_error_code(), e.value.resp_status) == ("ProjectAlreadyExist", 400)
    got = c.get_project(project)
    assert got.get_projectname() == project
    assert got.get_region() == emulator["region"]
    assert project in [p["projectName"] for p in c.list_project().get_projects()]

    c.tag_resources("project", project, **{"fcctl:app": "conformance"})
    tagged = [t for r in c.list_tag_resources("project", None, **{"fcctl:app": "conformance"})
              for t in r.get_tags()]
    assert {(t.get_resource_id(), t.get_tag_key(), t.get_tag_value()) for t in tagged} == {
        (project, "fcctl:app", "conformance")}
    assert not [t for r in c.list_tag_resources("project", None, **{"fcctl:app": "other"})
                for t in r.get_tags()]

    c.create_logstore(project, store, ttl=7, shard_count=1)
    ls = c.get_logstore(project, store)
    assert (ls.get_ttl(), ls.get_shard_count()) == (7, 1)
    assert c.list_logstore(project).get_logstores() == [store]
    with pytest.raises(LogException) as e:
        c.get_index_config(project, store)
    assert (e.value.get_error_code(), e.value.resp_status) == ("IndexConfigNotExist", 404)
    c.create_index(project, store, IndexConfig(
        line_config=IndexLineConfig(TOKENS),
        key_config_list={"request_id": IndexKeyConfig([" "]),
                         "status": IndexKeyConfig([" "])}))
    idx = c.get_index_config(project, store).get_index_config()
    assert set(idx.key_config_list) == {"request_id", "status"}

    now = int(time.time())
    put(c, project, store, [(now - 30, {"message": "model load failed: bad header",
                                        "request_id": "1-aaa", "status": "500"}),
                            (now - 20, {"message": "served classify", "request_id": "1-bbb",
                                        "status": "200"})])
    put(c, project, store, [(now - 10, {"message": "served classify again",
                                        "request_id": "1-ccc", "status": "200"})],
        compress=False)

    def query(q, reverse=False, line=100, offset=0, v2=True):
        c._get_logs_v2_enabled = v2
        r = c.get_logs(GetLogsRequest(project, store, now - 60, now + 1, query=q,
                                      reverse=reverse, line=line, offset=offset))
        assert r.is_completed()
        return [l.get_contents()["request_id"] for l in r.get_logs()]

    for v2 in (True, False):
        assert query("*", v2=v2) == ["1-aaa", "1-bbb", "1-ccc"]
        assert query("*", reverse=True, v2=v2) == ["1-ccc", "1-bbb", "1-aaa"]
        assert query("request_id: 1-bbb", v2=v2) == ["1-bbb"]
        assert query("status: 200 and again", v2=v2) == ["1-ccc"]
        assert query("load or again", v2=v2) == ["1-aaa", "1-ccc"]
        assert query("*", line=1, offset=1, v2=v2) == ["1-bbb"]
    c._get_logs_v2_enabled = False
    row = c.get_logs(GetLogsRequest(project, store, now - 60, now + 1, query="1-aaa")).get_logs()[0]
    assert int(row.get_time()) == now - 30
    assert row.get_contents()["__tag__:instance"] == "i-1"
    assert row.get_contents()["__topic__"] == "fcctl"
    with pytest.raises(LogException) as e:
        c.get_logs(GetLogsRequest(project, store, now - 60, now + 1, query="* | select count(*)"))
    assert e.value.get_error_code() == "ParameterInvalid"

    c.delete_logstore(project, store)
    with pytest.raises(LogException) as e:
        c.get_logstore(project, store)
    assert (e.value.get_error_code(), e.value.resp_status) == ("LogStoreNotExist", 404)
    c.delete_project(project)
    with pytest.raises(LogException) as e:
        c.get_project(project)
    assert (e.value.get_error_code(), e.value.resp_status) == ("ProjectNotExist", 404)


def test_sls_wrong_secret_is_refused(emulator):
    c = sls_client(emulator, secret="not-the-secret")
    with pytest.raises(LogException) as e:
        c.list_project()
    assert (e.value.get_error_code(), e.value.resp_status) == ("SignatureNotMatch", 401)


def start(data, faults=None):
    args = [_binary(), "local", "start", "--port", "0", "--data-dir", data, "--json"]
    if faults:
        args += ["--faults", faults]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line, "emulator exited before printing its info line"
    return p, json.loads(line)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()


def test_sls_logs_survive_a_restart_and_deny_names_the_action():
    data = tempfile.mkdtemp(prefix="fcctl-emu-sls-")
    p, info = start(data)
    try:
        c = sls_client(info)
        c.create_project("fcctl-restart", "")
        c.create_logstore("fcctl-restart", "app", ttl=1, shard_count=1)
        c.create_index("fcctl-restart", "app", IndexConfig(line_config=IndexLineConfig(TOKENS)))
        now = int(time.time())
        put(c, "fcctl-restart", "app", [(now, {"message": "before restart", "request_id": "1"})],
            compress_type="lz4")
    finally:
        stop(p)
    p, info = start(data, faults="deny=sls:CreateProject")
    try:
        c = sls_client(info)
        r = c.get_logs(GetLogsRequest("fcctl-restart", "app", now - 5, now + 5, query="restart"))
        assert [l.get_contents()["message"] for l in r.get_logs()] == ["before restart"]
        with pytest.raises(LogException) as e:
            c.create_project("fcctl-denied", "")
        assert (e.value.get_error_code(), e.value.resp_status) == ("Unauthorized", 401)
        assert "log:CreateProject" in e.value.get_error_message()
        c.get_project("fcctl-restart")
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)


LOGGING_SERVER_PY = r'''
import http.server, json, os, sys, socketserver
port = int(os.environ["FC_CUSTOM_LISTEN_PORT"])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        rid = self.headers.get("x-fc-request-id")
        sys.stdout.write(json.dumps({"request_id": rid, "msg": "conformance says hello"}) + "\n")
        sys.stdout.flush()
        b = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("0.0.0.0", port), H).serve_forever()
'''


def test_function_output_reaches_the_logstore_and_the_sdks_read_it(emulator):
    """What an instance prints is in its logConfig logstore (read with the SLS SDK), and
    InvokeFunction with x-fc-log-type: Tail answers the request's lines (FC SDK)."""
    import base64
    import io
    import zipfile

    from alibabacloud_fc20230330 import models as fc
    from darabonba.runtime import RuntimeOptions
    from test_sdk_conformance import fc_client

    c = sls_client(emulator)
    project, store = "fcctl-fn-logs", "function-logs"
    c.create_project(project, "function logs")
    c.create_logstore(project, store, ttl=7, shard_count=1)
    c.create_index(project, store, IndexConfig(line_config=IndexLineConfig(token_list=TOKENS),
                                               key_config_list={"requestId": IndexKeyConfig(token_list=TOKENS)}))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("server.py")
        info.external_attr = 0o755 << 16
        z.writestr(info, LOGGING_SERVER_PY)
    f = fc_client(emulator)
    name = "conformance-logs"
    f.create_function(fc.CreateFunctionRequest(body=fc.CreateFunctionInput(
        function_name=name, runtime="custom.debian12", handler="index.handler",
        code=fc.InputCodeLocation(zip_file=base64.b64encode(buf.getvalue()).decode()),
        memory_size=512, cpu=0.5, timeout=30,
        custom_runtime_config=fc.CustomRuntimeConfig(command=["python3"], args=["/code/server.py"], port=9000),
        log_config=fc.LogConfig(project=project, logstore=store, enable_request_metrics=True),
    )))
    inv = f.invoke_function_with_options(name, fc.InvokeFunctionRequest(body=io.BytesIO(b"x")),
                                         fc.InvokeFunctionHeaders(x_fc_invocation_type="Sync", x_fc_log_type="Tail"),
                                         RuntimeOptions())
    assert inv.status_code == 200
    rid = inv.headers["x-fc-request-id"]
    tail = base64.b64decode(inv.headers["x-fc-log-result"]).decode()
    assert json.loads(tail.splitlines()[-1]) == {"request_id": rid, "msg": "conformance says hello"}

    now = int(time.time())
    for v2 in (False, True):
        c._get_logs_v2_enabled = v2
        r = c.get_logs(GetLogsRequest(project, store, now - 60, now + 5, topic="FCLogs:" + name,
                                      query='requestId: "%s"' % rid))
        rows = [l.get_contents() for l in r.get_logs()]
        assert len(rows) == 1, rows
        assert rows[0]["functionName"] == name and rows[0]["qualifier"] == "LATEST"
        assert rows[0]["instanceID"] == inv.headers["x-fc-instance-id"]
        assert json.loads(rows[0]["message"])["msg"] == "conformance says hello"
