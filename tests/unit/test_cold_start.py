"""Cold-start regression guard (not a timing; `make bench` measures): what each function's
module imports in a fresh interpreter, and how many DynamoDB requests each operation makes."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.template import (
    REPO_ROOT,
    function_environment,
    load_template,
    table_create_kwargs,
)
from tests.conftest import TABLE_NAME, Api, invoke_handler
from tests.unit.conftest import RequestLog

# Every function's folder: those behind a route, and those an event source runs (webhooks).
FUNCTIONS = sorted(
    REPO_ROOT / resource["Properties"]["CodeUri"]
    for resource in load_template()["Resources"].values()
    if resource["Type"] == "AWS::Serverless::Function"
)
# Modules no function may load at cold start: heavy, and never needed for a request.
HEAVY = (
    "boto3",  # botocore directly: the same client, without boto3 and s3transfer
    "s3transfer",
    "email_validator",
    "dns",
    "jinja2",
    "aws_xray_sdk",  # tracing is off
    "aws_lambda_powertools.event_handler",  # one route per function: no router
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.idempotency",  # loaded with the first Idempotency-Key
    "babel",  # CLDR data: loaded when a coupon is first shown or a currency checked
    "coupons.formatting",
    "pydantic",  # the bodies parse without it (models.py)
    "pydantic_core",
)
# page_use (POST /c/{token}/use) reads a form, not a JSON model: it loads the models with its
# first use, not at cold start (coupons.service.page.use_on_site).
PAGE_FUNCTIONS = {"page", "page_use"}
# Run by the table's stream and the webhook queue, not by a request: no API key, no envelope,
# so no request's Logger either (a failure is Lambda's, in their log groups).
BACKGROUND_FUNCTIONS = {"webhook_events", "webhook_sender"}
BODY_FUNCTIONS = {
    *("create", "create_bulk", "update", "redeem", "redeem_cancel", "disable", "enable"),
    *("template_create", "template_update", "group_create", "group_update"),
    *("webhook_put", "webhook_redeliver"),
}


def _imported_at_cold_start(code_dir: Path) -> set[str]:
    program = (
        "import json, sys\n"
        f"sys.path[:0] = {[str(REPO_ROOT / 'layers' / 'domain'), str(code_dir)]!r}\n"
        "import app\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {
        **os.environ,
        **function_environment(TABLE_NAME),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "cold",
    }
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("code_dir", FUNCTIONS, ids=lambda path: path.name)
def test_cold_start_imports_nothing_heavy(code_dir: Path) -> None:
    modules = _imported_at_cold_start(code_dir)
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == []
    # The coupon page's functions load no powertools at all (their cold start, DESIGN 2.8).
    page = code_dir.name in PAGE_FUNCTIONS
    if code_dir.name in BACKGROUND_FUNCTIONS:
        assert "coupons.service.webhooks" in modules  # the guard sees imports
    else:
        assert ("aws_lambda_powertools.logging" in modules) != page  # and the guard sees them
    assert page or "coupons.page.web" not in modules
    # The body models are loaded by the functions that take a body, and only by them.
    assert ("coupons.models" in modules) == (code_dir.name in BODY_FUNCTIONS)


# Each operation's DynamoDB requests on a warm container (the API key already cached).
@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("create", ["PutItem"]),
        ("create with Idempotency-Key", ["PutItem", "PutItem", "UpdateItem"]),
        ("bulk create", ["TransactWriteItems"]),
        ("validate", ["GetItem"]),
        ("update", ["GetItem", "UpdateItem"]),
        ("delete", ["DeleteItem"]),
        ("disable", ["UpdateItem"]),
        ("enable", ["UpdateItem"]),
        ("list", ["Query", "BatchGetItem"]),
        ("redemptions", ["GetItem", "Query"]),
    ],
)
def test_dynamodb_requests_per_operation(
    api: Api, dynamodb_requests: list[str], operation: str, expected: list[str]
) -> None:
    code = api.create(cpnNo="COUNTED01").result
    api.redeem(code)
    fresh = api.create().result
    calls: dict[str, Any] = {
        "create": api.create,
        "create with Idempotency-Key": lambda: api.with_key("k-create").create(),
        "bulk create": lambda: api.create_bulk(5),
        "validate": lambda: api.validate(fresh),
        "update": lambda: api.update(fresh, memo="changed"),
        "delete": lambda: api.delete(fresh),
        "disable": lambda: api.disable(code),
        "enable": lambda: api.enable(code),
        "list": api.list,
        "redemptions": lambda: api.redemptions(code),
    }
    dynamodb_requests.clear()
    answer = calls[operation]()
    assert answer.code == 0, answer.body
    assert dynamodb_requests == expected


# Redeem and cancel in every case a checkout meets (store/redemptions.py): the kind of coupon,
# with or without an Idempotency-Key, in a container that has redeemed it before ("seen") or
# not ("fresh": another container did, or nobody has yet).
KINDS: dict[str, dict[str, Any]] = {
    "single-use": {"useLimit": 1},
    "multi-use with userId": {"useLimit": 3, "userId": "u1"},
    "unlimited, shared": {"useLimit": 0},
    "shared, once per customer": {"useLimit": 0, "perUserLimit": 1},
    "with a minimum order": {"useLimit": 1, "minOrderAmt": 20},
}
# What a checkout sends besides the code, by kind.
SENT: dict[str, dict[str, Any]] = {
    "multi-use with userId": {"userId": "u1"},
    "shared, once per customer": {"userId": "new customer"},
    "with a minimum order": {"amount": 25.5},
}
UPDATE = ["UpdateItem"]
TRANSACTION = ["TransactWriteItems"]
# With a key, two items change (the coupon and the key's record), so it is a transaction, and a
# transaction answers nothing: its condition pins the count this container believes the coupon
# has. A container that has not seen the coupon guesses "unused, single-use"; when that is
# wrong, the refusal returns the coupon and the second transaction is right.
GUESS_WRONG = TRANSACTION * 2


def _prepared(api: Api, kind: str, container: str, log: RequestLog) -> tuple[str, int]:
    """A coupon of `kind` in the state `container` names, and its count before the request."""
    fields = KINDS[kind]
    code = api.create(**fields).result
    sent = {**SENT.get(kind, {}), "userId": "earlier customer"} if "perUserLimit" in fields else {}
    used = 0
    if container != "fresh, unused":
        rdm_id = api.redeem(code, **(sent or SENT.get(kind, {}))).result["rdmId"]
        used = 1
        if fields["useLimit"] == 1:  # a use given back: the coupon can be redeemed again
            api.cancel(code, rdm_id)
            used = 0
    if container.startswith("fresh"):
        log.new_container()
        api.validate(code)  # the new container looks the API key up: not counted below
    return code, used


@pytest.mark.parametrize("container", ["seen", "fresh, unused", "fresh, used elsewhere"])
@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "Idempotency-Key"])
@pytest.mark.parametrize("kind", KINDS)
def test_redeem_requests_in_every_case(
    api: Api, dynamodb_requests: RequestLog, kind: str, keyed: bool, container: str
) -> None:
    code, used = _prepared(api, kind, container, dynamodb_requests)
    caller = api.with_key(f"order-{kind}-{container}") if keyed else api
    dynamodb_requests.clear()
    answer = caller.redeem(code, **SENT.get(kind, {}))
    assert answer.result["useCnt"] == used + 1, answer.body
    assert dynamodb_requests == _expected_redeem(kind, keyed=keyed, seen=container == "seen")


def _expected_redeem(kind: str, *, keyed: bool, seen: bool) -> list[str]:
    """The requests of one redemption: see KINDS, TRANSACTION and GUESS_WRONG. A shared code
    counted per user changes the user's own item too (a transaction); a container that has not
    seen the coupon learns that from a first refused write. With an amount, a transaction (a
    key) prices the order with terms it knows: read first in a container that has not seen
    the coupon."""
    if kind == "shared, once per customer":
        if seen:
            return TRANSACTION
        return GUESS_WRONG if keyed else UPDATE + TRANSACTION
    if not keyed:
        return UPDATE
    if seen:
        return TRANSACTION
    if kind == "with a minimum order":
        return ["GetItem", *TRANSACTION]
    return TRANSACTION if KINDS[kind]["useLimit"] == 1 else GUESS_WRONG


@pytest.mark.parametrize("container", ["seen", "fresh"])
@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "Idempotency-Key"])
@pytest.mark.parametrize("kind", KINDS)
def test_cancel_requests_in_every_case(
    api: Api, dynamodb_requests: RequestLog, kind: str, keyed: bool, container: str
) -> None:
    fields = KINDS[kind]
    code = api.create(**fields).result
    sent = [
        {**SENT.get(kind, {}), "userId": f"c{i}"}
        if "perUserLimit" in fields
        else SENT.get(kind, {})
        for i in range(fields["useLimit"] or 2)
    ]
    rdm_ids = [api.redeem(code, **each).result["rdmId"] for each in sent]
    if container == "fresh":
        dynamodb_requests.new_container()
        api.validate(code)  # the new container looks the API key up: not counted below
    caller = api.with_key(f"refund-{kind}-{container}") if keyed else api
    dynamodb_requests.clear()
    answer = caller.cancel(code, rdm_ids[0])
    assert answer.result["useCnt"] == len(rdm_ids) - 1, answer.body
    if "perUserLimit" in fields:
        # The use is given back to the user's count too, in a transaction; whose it is, the
        # refused first write tells (the cancel names only the redemption).
        expected = GUESS_WRONG if keyed else UPDATE + TRANSACTION
    elif not keyed:
        expected = UPDATE
    elif container == "seen" or fields["useLimit"] == 1:  # a fresh guess: one use of one
        expected = TRANSACTION
    else:
        expected = GUESS_WRONG
    assert dynamodb_requests == expected


# A page request in a fresh interpreter, against moto holding the items the test wrote: what
# the GET path loads while it answers (the cold start above sees only the import of app.py).
_PAGE_REQUEST = """
import json, sys
sys.path[:0] = {paths!r}
import botocore.session
from moto import mock_aws
with mock_aws():
    ddb = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    ddb.create_table(**{table!r})
    for item in {items!r}:
        ddb.put_item(TableName={table_name!r}, Item=item)
    before = set(sys.modules)
    import app
    from devstack.gateway import LambdaContext, build_event
    from devstack.template import routes
    route = next(r for r in routes() if r.route_key == "GET /c/{{token}}")
    event = build_event(method="GET", target={target!r}, headers=[], body=b"",
                        route_key=route.route_key, path_parameters={{"token": {token!r}}})
    answer = app.handler(event, LambdaContext(route))
    print(json.dumps([answer["statusCode"], sorted(set(sys.modules) - before)]))
"""


def test_the_page_never_loads_the_body_models(api: Api, dynamodb: Any) -> None:
    """DESIGN 2.8: no pydantic on the GET path, not even while answering (the models are
    loaded by page_use's first use, never by the page)."""
    template = api.call("POST", "/template/create", body={"nm": "T", "usage": "At the till."})
    group = api.call("POST", "/group/create", body={"nm": "G", "tmplIdx": template.result})
    code = api.create(grpIdx=group.result, onsiteYn="Y", onsitePwd="1234").result
    page_url = api.validate(code).result["pageUrl"]
    path = urlsplit(page_url).path
    items = dynamodb.scan(TableName=TABLE_NAME)["Items"]
    program = _PAGE_REQUEST.format(
        paths=[str(REPO_ROOT / "layers" / "domain"), str(REPO_ROOT / "functions" / "page")],
        table=table_create_kwargs(TABLE_NAME),
        table_name=TABLE_NAME,
        items=items,
        target=path,
        token=path.rsplit("/", 1)[1],
    )
    env = {
        **os.environ,
        **function_environment(TABLE_NAME),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "cold",
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    status, loaded = json.loads(out.stdout.splitlines()[-1])
    assert status == 200, out.stderr
    assert "coupons.page.qr" in loaded and "segno" in loaded  # the guard sees the request
    assert [m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_core")] == []
    assert "coupons.models" not in loaded


def test_the_page_is_one_read(api: Api, dynamodb_requests: list[str]) -> None:
    """A coupon's page, outside any group: the coupon, one GetItem (no API key, no budget)."""
    code = api.create().result
    path = urlsplit(api.validate(code).result["pageUrl"]).path
    dynamodb_requests.clear()
    answer = invoke_handler("GET", path, {"accept-language": "en"}, b"")
    assert answer.status == 200 and answer.content_type.startswith("text/html")
    assert code in answer.body
    assert dynamodb_requests == ["GetItem"]
