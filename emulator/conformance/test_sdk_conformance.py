"""Official-SDK conformance: alibabacloud_fc20230330 (FC3) and oss2 against the emulator."""
import io
import json
import subprocess
import time
import urllib.error
import urllib.request

import oss2
import pytest
from alibabacloud_fc20230330 import models as fc
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi import utils_models as oa_models
from darabonba.runtime import RuntimeOptions

from conftest import _binary, code_zip_b64, code_zip_bytes


def fc_client(info, secret=None):
    cfg = oa_models.Config(
        access_key_id=info["access_key_id"],
        access_key_secret=secret or info["access_key_secret"],
        region_id=info["region"],
        endpoint=info["fc_endpoint"].replace("http://", ""),
        protocol="http",
    )
    return Client(cfg)


def function_input(name, code):
    return fc.CreateFunctionInput(
        function_name=name, runtime="custom.debian12", handler="index.handler",
        code=code, memory_size=512, cpu=0.5, timeout=30, instance_concurrency=2,
        custom_runtime_config=fc.CustomRuntimeConfig(command=["python3"], args=["/code/server.py"], port=9000),
        instance_lifecycle_config=fc.InstanceLifecycleConfig(
            initializer=fc.LifecycleHook(handler="true", timeout=10),
            pre_stop=fc.LifecycleHook(handler="true", timeout=3)),
        environment_variables={"MODE": "conformance"},
    )


def http_get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read()


def test_fc_full_flow(emulator):
    c = fc_client(emulator)
    name = "conformance-fn"
    r = c.create_function(fc.CreateFunctionRequest(body=function_input(name, fc.InputCodeLocation(zip_file=code_zip_b64()))))
    assert r.status_code == 200
    assert r.body.function_name == name and r.body.state == "Active"
    assert r.body.function_arn.endswith(f":functions/{name}")
    assert r.body.code_checksum
    # Create of an existing function -> 409 FunctionAlreadyExists.
    with pytest.raises(Exception) as ei:
        c.create_function(fc.CreateFunctionRequest(body=function_input(name, fc.InputCodeLocation(zip_file=code_zip_b64()))))
    assert getattr(ei.value, "code", None) == "FunctionAlreadyExists"
    assert getattr(ei.value, "status_code", None) == 409 or "409" in str(ei.value)

    r = c.update_function(name, fc.UpdateFunctionRequest(body=fc.UpdateFunctionInput(description="updated")))
    assert r.body.description == "updated"
    r = c.get_function(name, fc.GetFunctionRequest())
    assert r.body.custom_runtime_config.args == ["/code/server.py"]
    r = c.list_functions(fc.ListFunctionsRequest(prefix="conformance", limit=10))
    assert [f.function_name for f in r.body.functions] == [name]

    v = c.publish_function_version(name, fc.PublishFunctionVersionRequest(body=fc.PublishVersionInput(description="v1")))
    assert v.body.version_id == "1"
    vs = c.list_function_versions(name, fc.ListFunctionVersionsRequest())
    assert [x.version_id for x in vs.body.versions] == ["1"]
    with pytest.raises(Exception) as ei:
        c.list_function_versions(name, fc.ListFunctionVersionsRequest(limit=101))
    assert getattr(ei.value, "code", None) == "InvalidArgument"

    a = c.create_alias(name, fc.CreateAliasRequest(body=fc.CreateAliasInput(alias_name="prod", version_id="1")))
    assert a.body.alias_name == "prod" and a.body.version_id == "1"
    assert c.get_alias(name, "prod").body.version_id == "1"

    p = c.put_provision_config(name, fc.PutProvisionConfigRequest(qualifier="prod", body=fc.PutProvisionConfigInput(target=2)))
    assert p.body.target == 2
    deadline = time.time() + 60
    while True:
        g = c.get_provision_config(name, fc.GetProvisionConfigRequest(qualifier="prod"))
        if g.body.current == 2:
            break
        assert time.time() < deadline, g.body.to_map()
        time.sleep(0.2)
    lp = c.list_provision_configs(fc.ListProvisionConfigsRequest(function_name=name))
    assert lp.body.provision_configs[0].target == 2

    t = c.create_trigger(name, fc.CreateTriggerRequest(body=fc.CreateTriggerInput(
        trigger_name="http", trigger_type="http", qualifier="prod",
        trigger_config=json.dumps({"authType": "anonymous", "methods": ["GET", "POST"]}))))
    url = t.body.http_trigger.url_internet
    assert url.startswith("http://127.0.0.1:")
    status, headers, body = http_get(url + "/hello?q=1")
    assert status == 200
    j = json.loads(body)
    assert j["path"] == "/hello?q=1" and j["init"] is True and j["version"] == "1" and j["code"] is True
    assert headers["x-fcctl-cold-start"] == "false"  # provisioned instance served it
    assert headers["x-fc-request-id"] and headers["x-fc-instance-id"]

    inv = c.invoke_function_with_options(name, fc.InvokeFunctionRequest(qualifier="prod", body=io.BytesIO(b'{"k":"v"}')),
                                         fc.InvokeFunctionHeaders(x_fc_invocation_type="Sync", x_fc_log_type="None"),
                                         RuntimeOptions())
    assert inv.status_code == 200
    out = json.loads(inv.body.read())
    assert out["path"] == "/invoke" and out["body"] == '{"k":"v"}'

    li = c.list_instances(name, fc.ListInstancesRequest(qualifier="prod"))
    assert len(li.body.instances) >= 2
    assert all(i.instance_id for i in li.body.instances)

    code = c.get_function_code(name, fc.GetFunctionCodeRequest(qualifier="1"))
    _, _, zbytes = http_get(code.body.url)
    assert zbytes == code_zip_bytes()

    route = fc.RouteConfig(routes=[fc.PathConfig(path="/*", function_name=name, qualifier="prod")])
    with pytest.raises(Exception) as ei:
        c.create_custom_domain(fc.CreateCustomDomainRequest(body=fc.CreateCustomDomainInput(
            domain_name="cat-dog.example", protocol="HTTP", route_config=route)))
    assert getattr(ei.value, "code", None) == "DomainNameNotResolved"
    subprocess.run([_binary(), "local", "dns", "add", "cat-dog.example", "--data-dir", emulator["data_dir"]], check=True,
                   stdout=subprocess.DEVNULL)
    d = c.create_custom_domain(fc.CreateCustomDomainRequest(body=fc.CreateCustomDomainInput(
        domain_name="cat-dog.example", protocol="HTTP",
        route_config=fc.RouteConfig(routes=[fc.PathConfig(path="/*", function_name=name, qualifier="prod")]))))
    assert d.body.domain_name == "cat-dog.example"
    status, _, body = http_get(emulator["domain_endpoint"] + "/classify", {"Host": "cat-dog.example"})
    assert status == 200 and json.loads(body)["path"] == "/classify"

    # Version referenced by an alias cannot be deleted.
    with pytest.raises(Exception):
        c.delete_function_version(name, "1")
    with pytest.raises(Exception) as ei:
        c.get_function("does-not-exist", fc.GetFunctionRequest())
    assert getattr(ei.value, "code", None) == "FunctionNotFound"

    c.delete_provision_config(name, fc.DeleteProvisionConfigRequest(qualifier="prod"))
    c.delete_trigger(name, "http")
    c.delete_custom_domain("cat-dog.example")


def test_fc_wrong_secret_is_403(emulator):
    c = fc_client(emulator, secret="definitely-wrong")
    with pytest.raises(Exception) as ei:
        c.list_functions(fc.ListFunctionsRequest())
    assert getattr(ei.value, "code", None) == "SignatureNotMatch"
    assert "403" in str(getattr(ei.value, "status_code", "")) or "403" in str(ei.value)


def bucket(info, secret=None, v4=True, name="conformance"):
    if v4:
        auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(info["access_key_id"], secret or info["access_key_secret"]))
        return oss2.Bucket(auth, info["oss_endpoint"], name, region=info["region"])
    return oss2.Bucket(oss2.Auth(info["access_key_id"], secret or info["access_key_secret"]), info["oss_endpoint"], name)


def test_oss2_objects_multipart_and_code_from_oss(emulator):
    b = bucket(emulator)
    b.create_bucket()
    r = b.put_object("models/small.bin", b"0123456789", headers={"x-oss-meta-sha256": "abc"})
    assert r.status == 200 and r.etag
    assert b.get_object("models/small.bin").read() == b"0123456789"
    assert b.get_object("models/small.bin", byte_range=(2, 4)).read() == b"234"
    h = b.head_object("models/small.bin")
    assert h.content_length == 10 and h.headers.get("x-oss-meta-sha256") == "abc"

    key = "models/big model.bin"
    up = b.init_multipart_upload(key).upload_id
    p1 = b.upload_part(key, up, 1, b"a" * (100 * 1024))
    p2 = b.upload_part(key, up, 2, b"b" * 1000)
    listed = b.list_parts(key, up)
    assert [p.part_number for p in listed.parts] == [1, 2]
    b.complete_multipart_upload(key, up, [oss2.models.PartInfo(1, p1.etag), oss2.models.PartInfo(2, p2.etag)])
    data = b.get_object(key).read()
    assert data == b"a" * (100 * 1024) + b"b" * 1000
    up2 = b.init_multipart_upload("aborted.bin").upload_id
    b.abort_multipart_upload("aborted.bin", up2)

    keys = [o.key for o in oss2.ObjectIteratorV2(b, prefix="models/")]
    assert keys == ["models/big model.bin", "models/small.bin"]
    b.delete_object("models/small.bin")
    assert not b.object_exists("models/small.bin")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        b.get_object("models/small.bin")

    # A V4 presigned URL (oss2 ProviderAuthV4.sign_url) fetches the object without credentials.
    url = b.sign_url("GET", "models/big model.bin", 60)
    assert "x-oss-signature-version=OSS4-HMAC-SHA256" in url
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == data
    forged = url.replace("x-oss-expires=60", "x-oss-expires=61")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(forged)
    assert ei.value.code == 403

    # Function code from the emulator's OSS.
    b.put_object("code/fn.zip", code_zip_bytes())
    c = fc_client(emulator)
    r = c.create_function(fc.CreateFunctionRequest(body=function_input(
        "from-oss", fc.InputCodeLocation(oss_bucket_name="conformance", oss_object_name="code/fn.zip"))))
    assert r.body.code_size == len(code_zip_bytes())
    inv = c.invoke_function("from-oss", fc.InvokeFunctionRequest(body=io.BytesIO(b"x")))
    assert json.loads(inv.body.read())["path"] == "/invoke"
    assert inv.headers.get("x-fcctl-cold-start") == "true"


def test_oss2_wrong_secret_is_403(emulator):
    b4 = bucket(emulator, secret="wrong")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b4.put_object("x.txt", b"x")
    assert ei.value.status == 403 and ei.value.code == "SignatureDoesNotMatch"


def test_oss2_v1_is_refused_like_a_new_account(emulator):
    """OSS answers V1 from new accounts / on new buckets with 403 and EC 0002-00000080."""
    b1 = bucket(emulator, v4=False, name="v1-bucket")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b1.create_bucket()
    assert ei.value.status == 403 and ei.value.code == "AccessDenied"
    assert ei.value.ec == "0002-00000080"


def test_oss2_v4_in_another_region_is_refused(emulator):
    auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(
        emulator["access_key_id"], emulator["access_key_secret"]))
    b = oss2.Bucket(auth, emulator["oss_endpoint"], "conformance", region="cn-beijing")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.put_object("x.txt", b"x")
    assert ei.value.status == 403 and ei.value.ec == "0002-00000228"


def test_oss2_multipart_limits_like_oss(emulator):
    """Non-last parts under 100 KB → 400 EntityTooSmall at completion; ListParts pages."""
    b = bucket(emulator, name="limits")
    b.create_bucket()
    key = "small-parts.bin"
    up = b.init_multipart_upload(key).upload_id
    p1 = b.upload_part(key, up, 1, b"a" * (50 * 1024))
    p2 = b.upload_part(key, up, 2, b"b" * 1024)
    first = b.list_parts(key, up, max_parts=1)
    assert first.is_truncated and [p.part_number for p in first.parts] == [1]
    rest = b.list_parts(key, up, marker=first.next_marker, max_parts=1)
    assert not rest.is_truncated and [p.part_number for p in rest.parts] == [2]
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.complete_multipart_upload(key, up, [oss2.models.PartInfo(1, p1.etag), oss2.models.PartInfo(2, p2.etag)])
    assert ei.value.status == 400 and ei.value.code == "EntityTooSmall"
    b.abort_multipart_upload(key, up)
    r = b.batch_delete_objects(["a", "b"])
    assert r.status == 200


def test_oss2_bucket_lifecycle(emulator):
    """PutBucketLifecycle / GetBucketLifecycle as oss2 sends and parses them; NoSuchLifecycle
    before any rule; a rule without an action is refused."""
    from oss2.models import AbortMultipartUpload, BucketLifecycle, LifecycleExpiration, LifecycleRule

    b = bucket(emulator, name="conformance-lifecycle")
    b.create_bucket()
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.get_bucket_lifecycle()
    assert ei.value.status == 404 and ei.value.code == "NoSuchLifecycle"
    rule = LifecycleRule("code", "fcctl/app/code/", status=LifecycleRule.ENABLED,
                         expiration=LifecycleExpiration(days=7),
                         abort_multipart_upload=AbortMultipartUpload(days=3))
    b.put_bucket_lifecycle(BucketLifecycle([rule]))
    got = b.get_bucket_lifecycle().rules
    assert len(got) == 1 and got[0].id == "code" and got[0].prefix == "fcctl/app/code/"
    assert got[0].expiration.days == 7 and got[0].abort_multipart_upload.days == 3
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.put_bucket_lifecycle(BucketLifecycle([LifecycleRule("empty", "x/", status=LifecycleRule.ENABLED)]))
    assert ei.value.status == 400
    b.delete_bucket_lifecycle()
    with pytest.raises(oss2.exceptions.ServerError):
        b.get_bucket_lifecycle()


def test_oss2_list_multipart_uploads_pages_and_keeps_the_bucket(emulator):
    """ListMultipartUploads as oss2 sends (encoding-type=url) and parses it: by key, one key's
    uploads in the order they were initiated, paged by key-marker + upload-id-marker; an
    incomplete upload makes DeleteBucket answer 409 BucketNotEmpty."""
    b = bucket(emulator, name="conformance-uploads")
    b.create_bucket()
    first = b.init_multipart_upload("app/a b.bin").upload_id
    second = b.init_multipart_upload("app/a b.bin").upload_id
    third = b.init_multipart_upload("app/c.bin").upload_id
    outside = b.init_multipart_upload("other/x.bin").upload_id
    b.upload_part("app/c.bin", third, 1, b"x" * 10)

    page = b.list_multipart_uploads(prefix="app/", max_uploads=1)
    assert page.is_truncated
    assert [(u.key, u.upload_id) for u in page.upload_list] == [("app/a b.bin", first)]
    assert (page.next_key_marker, page.next_upload_id_marker) == ("app/a b.bin", first)
    assert page.upload_list[0].initiation_date > 0
    seen = [(u.key, u.upload_id) for u in page.upload_list]
    while page.is_truncated:
        page = b.list_multipart_uploads(prefix="app/", key_marker=page.next_key_marker,
                                        upload_id_marker=page.next_upload_id_marker, max_uploads=1)
        seen += [(u.key, u.upload_id) for u in page.upload_list]
    assert seen == [("app/a b.bin", first), ("app/a b.bin", second), ("app/c.bin", third)]
    # A key-marker alone starts after all of that key's uploads.
    rest = b.list_multipart_uploads(prefix="app/", key_marker="app/a b.bin")
    assert [u.upload_id for u in rest.upload_list] == [third] and not rest.is_truncated
    assert [u.upload_id for u in oss2.MultipartUploadIterator(b, max_uploads=2)] == [first, second, third, outside]

    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.delete_bucket()
    assert ei.value.status == 409 and ei.value.code == "BucketNotEmpty"
    for key, up in seen + [("other/x.bin", outside)]:
        b.abort_multipart_upload(key, up)
    empty = b.list_multipart_uploads(prefix="app/")
    assert empty.upload_list == [] and not empty.is_truncated
    b.delete_bucket()
