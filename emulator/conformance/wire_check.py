"""Holds a recorded request log (the emulator's `request_log`, JSON lines) to Alibaba's SDK models.

Every FC3 request body must be what `alibabacloud_fc20230330`'s input model for that action
describes: no key the model does not know, every field the model marks "This parameter is
required." present, each value of the JSON type the model declares (nested models, lists and
maps included). Every OSS request must be signed with V4 (header or presigned URL).

Usage: python wire_check.py LOG  → prints a JSON summary; exits 1 listing every violation.
"""
import inspect
import json
import re
import sys
import typing

from alibabacloud_fc20230330 import models as fc_models

# Action → the SDK model of its request body (models/_*_input.py / _*_request.py).
BODY_MODELS = {
    "CreateFunction": fc_models.CreateFunctionInput,
    "UpdateFunction": fc_models.UpdateFunctionInput,
    "CreateTrigger": fc_models.CreateTriggerInput,
    "UpdateTrigger": fc_models.UpdateTriggerInput,
    "CreateAlias": fc_models.CreateAliasInput,
    "UpdateAlias": fc_models.UpdateAliasInput,
    "PublishFunctionVersion": fc_models.PublishVersionInput,
    "PutProvisionConfig": fc_models.PutProvisionConfigInput,
    "CreateCustomDomain": fc_models.CreateCustomDomainInput,
    "UpdateCustomDomain": fc_models.UpdateCustomDomainInput,
}
# Actions whose body is not a model (raw event bytes) or that send none.
NO_MODEL = {"InvokeFunction"}


def fields(cls):
    """JSON key → (attribute, annotation string, required) for a Dara model class."""
    # from_map reads each key in a block of its own: `m.get('key')` … `self.attr`.
    keys = {}
    for block in re.split(r"\n\s*\n", inspect.getsource(cls.from_map)):
        key = re.search(r"m\.get\('(\w+)'\)", block)
        attr = re.search(r"self\.(\w+)", block)
        if key and attr:
            keys[attr.group(1)] = key.group(1)
    init = inspect.getsource(cls.__init__)
    required = set()
    comment = []
    for line in init.splitlines():
        s = line.strip()
        if s.startswith("#"):
            comment.append(s)
            continue
        m = re.match(r"self\.(\w+) = \w+", s)
        if m:
            if any("This parameter is required." in c for c in comment):
                required.add(m.group(1))
            comment = []
    ann = cls.__init__.__annotations__
    return {key: (attr, ann.get(attr, "Any"), attr in required) for attr, key in keys.items()}


def resolve(annotation):
    """The class named by `main_models.X`, else None."""
    m = re.fullmatch(r"main_models\.(\w+)", annotation)
    return getattr(fc_models, m.group(1)) if m else None


def check_value(value, annotation, where, problems):
    annotation = annotation.strip()
    if annotation in ("str",):
        ok = isinstance(value, str)
    elif annotation in ("int",):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation in ("float",):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif annotation in ("bool",):
        ok = isinstance(value, bool)
    elif annotation.startswith("List["):
        inner = annotation[5:-1]
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list ({annotation}), got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(item, inner, f"{where}[{i}]", problems)
        return
    elif annotation.startswith("Dict["):
        inner = annotation[5:-1].split(",", 1)[1]
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object ({annotation}), got {type(value).__name__}")
            return
        for k, item in value.items():
            check_value(item, inner, f"{where}.{k}", problems)
        return
    elif resolve(annotation) is not None:
        check_model(value, resolve(annotation), where, problems)
        return
    else:
        ok = True  # Any / unknown annotation: nothing to hold it to
    if not ok:
        problems.append(f"{where}: expected {annotation}, got {type(value).__name__} {value!r}")


def check_model(body, cls, where, problems):
    if not isinstance(body, dict):
        problems.append(f"{where}: expected an object ({cls.__name__}), got {type(body).__name__}")
        return
    known = fields(cls)
    for key, value in body.items():
        if key not in known:
            problems.append(f"{where}.{key}: not a field of the SDK model {cls.__name__}")
            continue
        if value is None:
            continue
        check_value(value, known[key][1], f"{where}.{key}", problems)
    for key, (_, _, required) in known.items():
        if required and body.get(key) is None:
            problems.append(f"{where}.{key}: required by {cls.__name__} but missing")


def main(path):
    problems = []
    checked = {}
    oss = {}
    fc_requests = 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            entry = json.loads(line)
            if entry["api"] not in ("fc", "oss"):
                # RPC products and SLS: their conformance is emulator/conformance's SDK tests.
                continue
            if entry["api"] == "oss":
                oss[entry["signature"]] = oss.get(entry["signature"], 0) + 1
                if entry["signature"] not in ("v4", "presigned-v4"):
                    problems.append(f"line {n}: OSS {entry['method']} {entry['resource']} signed {entry['signature']}")
                continue
            fc_requests += 1
            action, body = entry["action"], entry["body"]
            if not action:
                problems.append(f"line {n}: FC {entry['method']} {entry['path']} without x-acs-action")
                continue
            cls = BODY_MODELS.get(action)
            if cls is None:
                if body not in (None, {}) and action not in NO_MODEL:
                    problems.append(f"line {n}: {action} sent a body but no SDK model is mapped for it")
                continue
            checked[action] = checked.get(action, 0) + 1
            check_model(body, cls, f"line {n} {action}", problems)
    summary = {
        "fc_requests": fc_requests,
        "bodies_checked": checked,
        "oss_requests_by_signature": oss,
        "problems": problems,
    }
    print(json.dumps(summary, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
