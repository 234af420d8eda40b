"""template.yaml is the product's shape: one function per route, one layer, one table, and
each function allowed exactly the DynamoDB actions its route needs."""

import fnmatch
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coupons import idempotency
from coupons.store import client as store_client
from devstack.template import load_template

API = "/api/coupon/v1"
# The items a function may reach, by the partition keys of store/keys.py (as IAM StringLike
# patterns on dynamodb:LeadingKeys): API keys, coupons with their redemption records, one
# route's Idempotency-Key records, account items (cursor keys), the listing indexes.
API_KEYS, COUPONS, ACCOUNTS, INDEX_PARTITIONS = "KEY#*", "A#*#C#*", "ACCOUNT#*", "A#*"
PASSWORD_COUNTERS = ("A#*#PWD", "A#*#PWD#*")
TEMPLATES = "A#*#TMPL"  # an account's templates and their number sequence
GROUPS = "A#*#GRP"  # an account's groups and their number sequence
WEBHOOKS = "A#*#WH"  # an account's webhook: its config ("CFG") and deliveries ("D#<event id>")


def _keys_of(route: str) -> str:
    return f"A#*#IK#{route}#*"


KEY_RECORD = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}  # claimed, completed, freed
# function -> the (action, leading-key pattern) pairs it is granted; GetItem on API_KEYS is
# authentication, and the only grant that reaches API keys at all.
GRANTS: dict[str, set[tuple[str, str]]] = {
    "CreateFunction": {
        ("GetItem", API_KEYS),
        ("PutItem", COUPONS),
        ("UpdateItem", TEMPLATES),  # the count of coupons that refer to a template
        ("UpdateItem", GROUPS),  # the count of coupons that refer to a group
    }
    | {(action, _keys_of("create")) for action in KEY_RECORD},
    "CreateBulkFunction": {
        ("GetItem", API_KEYS),
        ("PutItem", COUPONS),
        ("UpdateItem", TEMPLATES),
        ("UpdateItem", GROUPS),
    }
    | {(action, _keys_of("create/bulk")) for action in KEY_RECORD},
    "UpdateFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", COUPONS),
        ("UpdateItem", COUPONS),
        ("UpdateItem", TEMPLATES),  # the count of coupons that refer to a template
        ("UpdateItem", GROUPS),  # the count of coupons that refer to a group
    },
    "ValidateFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", COUPONS),
        ("GetItem", TEMPLATES),  # the text of the coupon's template
        ("GetItem", GROUPS),  # the settings of the coupon's group
    },
    "RedeemFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", COUPONS),  # the terms of an unseen coupon, to price an order with a key
        ("UpdateItem", COUPONS),
        ("PutItem", COUPONS),  # the redemption record, under its coupon's partition
        ("BatchGetItem", COUPONS),  # a replay checks the coupon and the record still stand
        ("PutItem", _keys_of("redeem")),
        *{  # the shared wrong-password counters: checked, counted, read by a replay
            (action, counter)
            for action in ("ConditionCheckItem", "UpdateItem", "BatchGetItem")
            for counter in PASSWORD_COUNTERS
        },
    },
    "RedeemCancelFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", COUPONS),  # a moved-out record's user, whose per-user count it gives back
        ("UpdateItem", COUPONS),
        ("PutItem", _keys_of("redeem/cancel")),
    },
    "RedemptionsFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", COUPONS),
        ("Query", COUPONS),
        ("GetItem", ACCOUNTS),
    },
    "ListFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", ACCOUNTS),
        ("BatchGetItem", COUPONS),
        ("BatchGetItem", GROUPS),  # the settings of the listed coupons' groups
        ("Query", INDEX_PARTITIONS),
    },
    "DeleteFunction": {
        ("GetItem", API_KEYS),
        ("UpdateItem", TEMPLATES),  # the count of coupons that refer to a template
        ("UpdateItem", GROUPS),  # the count of coupons that refer to a group
        ("DeleteItem", COUPONS),
        ("PutItem", COUPONS),  # the coupon's own redemption records, moved to items of their own
    },
    "DisableFunction": {("GetItem", API_KEYS), ("UpdateItem", COUPONS)},
    "EnableFunction": {("GetItem", API_KEYS), ("UpdateItem", COUPONS)},
    "TemplateCreateFunction": {
        ("GetItem", API_KEYS),
        ("UpdateItem", TEMPLATES),  # the account's template numbers
        ("PutItem", TEMPLATES),
    },
    "TemplateUpdateFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", TEMPLATES),
        ("UpdateItem", TEMPLATES),
    },
    "TemplateGetFunction": {("GetItem", API_KEYS), ("GetItem", TEMPLATES)},
    "TemplateListFunction": {
        ("GetItem", API_KEYS),
        ("Query", TEMPLATES),
        ("GetItem", ACCOUNTS),
    },
    "TemplateDeleteFunction": {("GetItem", API_KEYS), ("DeleteItem", TEMPLATES)},
    "GroupCreateFunction": {
        ("GetItem", API_KEYS),
        ("UpdateItem", GROUPS),  # the account's group numbers
        ("PutItem", GROUPS),
        ("UpdateItem", TEMPLATES),  # the count of things that refer to the group's template
    },
    "GroupUpdateFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", GROUPS),
        ("UpdateItem", GROUPS),
        ("UpdateItem", TEMPLATES),  # the group moved from one template to another
    },
    "GroupGetFunction": {("GetItem", API_KEYS), ("GetItem", GROUPS)},
    "GroupListFunction": {
        ("GetItem", API_KEYS),
        ("Query", GROUPS),
        ("GetItem", ACCOUNTS),
    },
    "GroupDeleteFunction": {
        ("GetItem", API_KEYS),
        ("DeleteItem", GROUPS),
        ("UpdateItem", TEMPLATES),  # a deleted group's template counts it no more
    },
    # The public coupon page (DESIGN 2.8): no API key, so no account's request budget either.
    "PageFunction": {
        ("GetItem", COUPONS),  # the coupon its token names
        ("GetItem", TEMPLATES),  # the text of the coupon's template
        ("GetItem", GROUPS),  # the settings of the coupon's group
    },
    "PageUseFunction": {  # a redemption like RedeemFunction's, then the page again
        ("GetItem", COUPONS),  # the coupon its token names, and again after the use
        ("UpdateItem", COUPONS),
        ("PutItem", COUPONS),  # the redemption record, under its coupon's partition
        ("BatchGetItem", COUPONS),  # a replay checks the coupon and the record still stand
        ("PutItem", _keys_of("page/use")),  # the form's nonce as an Idempotency-Key
        *{  # the shared wrong-password counters: checked, counted, read by a replay
            (action, counter)
            for action in ("ConditionCheckItem", "UpdateItem", "BatchGetItem")
            for counter in PASSWORD_COUNTERS
        },
        ("GetItem", TEMPLATES),
        ("GetItem", GROUPS),
    },
    "NotFoundFunction": set(),
    # Webhooks (DESIGN 2.9): the account's config and deliveries, under one partition.
    "WebhookPutFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", WEBHOOKS),  # is there one (a new one gets its secret)
        ("UpdateItem", WEBHOOKS),
    },
    "WebhookGetFunction": {("GetItem", API_KEYS), ("GetItem", WEBHOOKS)},
    "WebhookRotateFunction": {("GetItem", API_KEYS), ("UpdateItem", WEBHOOKS)},
    "WebhookDeliveriesFunction": {
        ("GetItem", API_KEYS),
        ("Query", WEBHOOKS),
        ("GetItem", ACCOUNTS),  # the cursor key
    },
    "WebhookRedeliverFunction": {
        ("GetItem", API_KEYS),
        ("GetItem", WEBHOOKS),
        ("UpdateItem", WEBHOOKS),
    },
    # Not behind the API (no API key, no request budget): the table's stream and the queue.
    "WebhookEventsFunction": {
        ("GetItem", COUPONS),  # the coupon of a redemption record moved out of it
        ("GetItem", WEBHOOKS),  # the account's config
        ("PutItem", WEBHOOKS),  # each event's delivery record
        ("DeleteItem", WEBHOOKS),  # taken back when the queue refuses it
    },
    "WebhookSenderFunction": {("GetItem", WEBHOOKS), ("UpdateItem", WEBHOOKS)},
}
# function -> the actions it is granted on the webhook queue (and nothing else but the table).
QUEUE = {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
QUEUE_GRANTS: dict[str, set[str]] = {
    "WebhookEventsFunction": {"SendMessage"},  # each event queued
    "WebhookRedeliverFunction": {"SendMessage"},  # a delivery queued again
    "WebhookSenderFunction": {"ChangeMessageVisibility"},  # a failed one's backoff
}
# Functions run by an event source, not by a route: the event type of each, and its source.
BACKGROUND: dict[str, tuple[str, dict[str, Any]]] = {
    "WebhookEventsFunction": ("DynamoDB", {"Fn::GetAtt": ["CouponTable", "StreamArn"]}),
    "WebhookSenderFunction": ("SQS", QUEUE),
}


REQUEST_BUDGET = "A#*#RATE"  # the account's requests of the minute (limits.py)
# Functions that authenticate no API key, so count no account's requests.
PUBLIC_FUNCTIONS = {"NotFoundFunction", "PageFunction", "PageUseFunction"}
for _function, _grants in GRANTS.items():
    if _function not in PUBLIC_FUNCTIONS | set(
        BACKGROUND
    ):  # every authenticated function counts its requests
        _grants.add(("UpdateItem", REQUEST_BUDGET))


def _actions(function: str) -> set[str]:
    return {action for action, _ in GRANTS[function]}


# route -> (function, the DynamoDB actions it needs)
EXPECTED = {
    route: (function, _actions(function))
    for route, function in {
        f"POST {API}/create": "CreateFunction",
        f"POST {API}/create/bulk": "CreateBulkFunction",
        f"PUT {API}/update": "UpdateFunction",
        f"GET {API}/validate": "ValidateFunction",
        f"POST {API}/redeem": "RedeemFunction",
        f"PUT {API}/redeem": "RedeemFunction",
        f"POST {API}/redeem/cancel": "RedeemCancelFunction",
        f"GET {API}/redemptions": "RedemptionsFunction",
        f"GET {API}/list": "ListFunction",
        f"DELETE {API}/delete": "DeleteFunction",
        f"POST {API}/disable": "DisableFunction",
        f"POST {API}/enable": "EnableFunction",
        f"POST {API}/template/create": "TemplateCreateFunction",
        f"PUT {API}/template/update": "TemplateUpdateFunction",
        f"GET {API}/template": "TemplateGetFunction",
        f"GET {API}/template/list": "TemplateListFunction",
        f"DELETE {API}/template/delete": "TemplateDeleteFunction",
        f"POST {API}/group/create": "GroupCreateFunction",
        f"PUT {API}/group/update": "GroupUpdateFunction",
        f"GET {API}/group": "GroupGetFunction",
        f"GET {API}/group/list": "GroupListFunction",
        f"DELETE {API}/group/delete": "GroupDeleteFunction",
        f"PUT {API}/webhook": "WebhookPutFunction",
        f"GET {API}/webhook": "WebhookGetFunction",
        f"POST {API}/webhook/rotate-secret": "WebhookRotateFunction",
        f"GET {API}/webhook/deliveries": "WebhookDeliveriesFunction",
        f"POST {API}/webhook/redeliver": "WebhookRedeliverFunction",
        "GET /c/{token}": "PageFunction",  # public, at the root: pageUrl is {domain}/c/{token}
        "POST /c/{token}/use": "PageUseFunction",
        "ANY $default": "NotFoundFunction",
    }.items()
}
TABLE = {"Fn::GetAtt": ["CouponTable", "Arn"]}
INDEXES = {"Fn::Sub": "${CouponTable.Arn}/index/*"}
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def _functions() -> dict[str, Any]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def _routes() -> dict[str, str]:
    found = {}
    for name, function in _functions().items():
        for event in function["Properties"]["Events"].values():
            if name in BACKGROUND:  # its one event source, and no route
                assert event["Type"] == BACKGROUND[name][0], name
                continue
            assert event["Type"] == "HttpApi"
            assert event["Properties"]["ApiId"] == {"Ref": "CouponApi"}
            found[f"{event['Properties']['Method']} {event['Properties']['Path']}"] = name
    return found


def _dynamodb_actions(function: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in function["Properties"].get("Policies", []):
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            if statement["Resource"] == QUEUE:
                continue
            assert statement["Resource"] in (TABLE, INDEXES)
            actions |= {action.removeprefix("dynamodb:") for action in statement["Action"]}
    return actions


def test_every_route_has_its_own_function_and_folder() -> None:
    assert _routes() == {route: function for route, (function, _) in EXPECTED.items()}
    # Every function serves a route, but those an event source runs (and only those).
    routed = {function for function, _ in EXPECTED.values()}
    assert set(_functions()) == routed | set(BACKGROUND) and not routed & set(BACKGROUND)
    code_dirs = [f["Properties"]["CodeUri"] for f in _functions().values()]
    assert len(code_dirs) == len(set(code_dirs)) == len(_functions())
    assert all(uri.startswith("functions/") for uri in code_dirs)


def test_each_function_gets_exactly_the_actions_its_route_needs() -> None:
    needs = {f: a for f, a in EXPECTED.values()} | {f: _actions(f) for f in BACKGROUND}
    for function_name, actions in needs.items():
        granted = _dynamodb_actions(_functions()[function_name])
        assert granted == actions, function_name
        assert "*" not in "".join(granted) and "Scan" not in granted


READ_ONLY = {"GetItem", "BatchGetItem", "Query"}
# Properties with which SAM would add permissions of its own to a function's role (X-Ray,
# VPC networking, a dead-letter queue, asynchronous invocation's destinations, connectors).
# Without them its generated role gets only AWSLambdaBasicExecutionRole (writing the function's
# own logs) and, for a function with an event source (BACKGROUND), that source's poller policy
# (AWSLambdaDynamoDBExecutionRole: reading the table's stream; AWSLambdaSQSQueueExecutionRole:
# receiving and deleting the queue's messages).
SAM_ADDS_POLICIES = {"Tracing", "VpcConfig", "DeadLetterQueue", "EventInvokeConfig", "Connectors"}


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in function["Properties"].get("Policies", []):
        # Inline statements only: no SAM policy template (DynamoDBCrudPolicy...) and no managed
        # policy, whose actions this test could not see.
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, policy
        statements += policy["Statement"]
    return statements


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_least_privilege_every_statement_is_dynamodb_on_the_table() -> None:
    """Each statement: Allow, named DynamoDB actions (no wildcard, no Scan), on the table or
    its indexes and nothing else; only Query reaches the indexes. The webhook queue's
    statements: named SQS actions on that queue only, for the functions that need them."""
    allowed = {action for actions in map(_actions, GRANTS) for action in actions}
    assert "Scan" not in allowed and not any("*" in action for action in allowed)
    queue_allowed = {f"sqs:{action}" for actions in QUEUE_GRANTS.values() for action in actions}
    for name, function in _functions().items():
        properties = function["Properties"]
        assert "Role" not in properties and not SAM_ADDS_POLICIES & set(properties), name
        queue_actions: set[str] = set()
        for statement in _statements(function):
            if statement["Resource"] == QUEUE:
                assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, name
                assert statement["Effect"] == "Allow"
                assert all(action.startswith("sqs:") for action in statement["Action"]), name
                queue_actions |= {a.removeprefix("sqs:") for a in statement["Action"]}
                continue
            assert set(statement) == {"Sid", "Effect", "Action", "Resource", "Condition"}, name
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            assert isinstance(actions, list) and actions, name
            for action in actions:
                assert action.startswith("dynamodb:"), (name, action)
                assert action.removeprefix("dynamodb:") in allowed, (name, action)
            assert statement["Resource"] in (TABLE, INDEXES), name
            if statement["Resource"] == INDEXES:
                assert actions == ["dynamodb:Query"], name
        assert queue_actions == QUEUE_GRANTS.get(name, set()), name
    defaults = TEMPLATE["Globals"]["Function"]
    assert not {"Policies", "Role", *SAM_ADDS_POLICIES} & set(defaults)
    # Nowhere in the whole template a wildcard or a Scan, nor any other IAM resource.
    for text in _strings(TEMPLATE["Resources"]):
        assert not text.startswith("dynamodb:") or text.removeprefix("dynamodb:") in allowed
        assert not text.startswith("sqs:") or text in queue_allowed, text
        assert text not in ("*", "dynamodb:*", "dynamodb:Scan", "sqs:*"), text
    iam = {name for name, r in RESOURCES.items() if r["Type"].startswith("AWS::IAM::")}
    assert iam == set()


def _leading_keys(statement: dict[str, Any]) -> list[str]:
    """The statement's only condition: every leading key matches one of these patterns."""
    assert list(statement["Condition"]) == ["ForAllValues:StringLike"]
    assert list(statement["Condition"]["ForAllValues:StringLike"]) == ["dynamodb:LeadingKeys"]
    patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert isinstance(patterns, list) and patterns
    return list(patterns)


def test_each_function_reaches_only_the_items_its_route_needs() -> None:
    """Least privilege at the item level: each grant is scoped by dynamodb:LeadingKeys, so
    create cannot touch an API key, only list and redemptions read account items (cursor
    keys), and a route's Idempotency-Key records are its own."""
    for name, function in _functions().items():
        granted = {
            (action.removeprefix("dynamodb:"), pattern)
            for statement in _statements(function)
            if statement["Resource"] != QUEUE  # no items there (the test above)
            for action in statement["Action"]
            for pattern in _leading_keys(statement)
        }
        assert granted == GRANTS[name], name
    for name, grants in GRANTS.items():
        assert {action for action, keys in grants if keys == API_KEYS} <= {"GetItem"}, name


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        (COUPONS, "A#acct_0123456789abcdef#C#WELCOME2026", True),
        (COUPONS, "A#acct_0123456789abcdef#IK#redeem#" + "ab" * 32, False),
        (COUPONS, "KEY#" + "ab" * 32, False),
        (COUPONS, "ACCOUNT#acct_0123456789abcdef", False),
        (_keys_of("create"), "A#acct_0123456789abcdef#IK#create#" + "ab" * 32, True),
        (_keys_of("create"), "A#acct_0123456789abcdef#IK#create/bulk#" + "ab" * 32, False),
        (_keys_of("redeem"), "A#acct_0123456789abcdef#IK#redeem/cancel#" + "ab" * 32, False),
        (_keys_of("redeem"), "A#acct_0123456789abcdef#C#WELCOME2026", False),
        (INDEX_PARTITIONS, "A#acct_0123456789abcdef#G#7", True),
        (API_KEYS, "ACCOUNT#acct_0123456789abcdef", False),
        (COUPONS, "A#acct_0123456789abcdef#PWD#h1:" + "ab" * 32, False),
        (PASSWORD_COUNTERS[1], "A#acct_0123456789abcdef#PWD#h1:" + "ab" * 32, True),
        (PASSWORD_COUNTERS[1], "A#acct_0123456789abcdef#C#WELCOME2026", False),
        (GROUPS, "A#acct_0123456789abcdef#GRP", True),
        (GROUPS, "A#acct_0123456789abcdef#TMPL", False),
        (TEMPLATES, "A#acct_0123456789abcdef#GRP", False),
        (COUPONS, "A#acct_0123456789abcdef#GRP", False),
        (_keys_of("page/use"), "A#acct_0123456789abcdef#IK#page/use#" + "ab" * 32, True),
        (_keys_of("page/use"), "A#acct_0123456789abcdef#IK#redeem#" + "ab" * 32, False),
        (_keys_of("redeem"), "A#acct_0123456789abcdef#IK#page/use#" + "ab" * 32, False),
        (WEBHOOKS, "A#acct_0123456789abcdef#WH", True),
        (WEBHOOKS, "A#acct_0123456789abcdef#C#SUMMERWH", False),  # codes: 8-16, no "#"
        (COUPONS, "A#acct_0123456789abcdef#WH", False),
        (GROUPS, "A#acct_0123456789abcdef#WH", False),
    ],
)
def test_leading_key_patterns_separate_the_record_kinds(
    pattern: str, key: str, matches: bool
) -> None:
    """IAM's StringLike (`*` any run of characters, case-sensitive) against real keys."""
    assert fnmatch.fnmatchcase(key, pattern) is matches


def test_the_account_request_limit_is_a_parameter_every_function_reads() -> None:
    parameter = TEMPLATE["Parameters"]["AccountRequestsPerMinute"]
    assert parameter["Type"] == "Number" and parameter["MinValue"] == 0
    assert int(parameter["Default"]) > 0  # on unless the operator turns it off
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["ACCOUNT_REQUESTS_PER_MINUTE"] == {"Ref": "AccountRequestsPerMinute"}


def test_table_has_deletion_protection_and_the_api_access_logs_without_secrets() -> None:
    assert RESOURCES["CouponTable"]["Properties"]["DeletionProtectionEnabled"] is True
    settings = RESOURCES["CouponApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["CouponApiAccessLogs", "Arn"]}
    line = json.loads(settings["Format"])  # one JSON object per request
    fields = " ".join(line.values())
    assert "$context.requestId" in fields and "$context.status" in fields
    for secret in ("header", "querystring", "body", "authorizer", "path"):  # nor $context.path
        assert secret not in fields.lower(), secret
    logs = RESOURCES["CouponApiAccessLogs"]
    assert logs["Type"] == "AWS::Logs::LogGroup" and logs["Properties"]["RetentionInDays"]


def test_query_routes_are_read_only() -> None:
    """Every GET route (validate, list, redemptions, a template or group, the templates or
    groups, the public coupon page) only reads the account's data: its one write is the count
    of the account's requests (limits.py; none for the public page, which no account calls),
    and nothing else is granted (no Put, Delete, batch write or transaction; no other
    Update)."""
    readers = {function for route, (function, _) in EXPECTED.items() if route.startswith("GET ")}
    assert readers == {
        "ValidateFunction",
        "ListFunction",
        "RedemptionsFunction",
        "TemplateGetFunction",
        "TemplateListFunction",
        "GroupGetFunction",
        "GroupListFunction",
        "PageFunction",
        "WebhookGetFunction",
        "WebhookDeliveriesFunction",
    }
    for function in readers:
        writes = {grant for grant in GRANTS[function] if grant[0] not in READ_ONLY}
        budget = set() if function in PUBLIC_FUNCTIONS else {("UpdateItem", REQUEST_BUDGET)}
        assert writes == budget, function


def test_list_queries_only_the_indexes() -> None:
    statements = [
        s for p in _functions()["ListFunction"]["Properties"]["Policies"] for s in p["Statement"]
    ]
    assert [s["Resource"] for s in statements if "dynamodb:Query" in s["Action"]] == [INDEXES]


def test_runtime_layer_and_limits() -> None:
    defaults = TEMPLATE["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.13" and defaults["Architectures"] == ["arm64"]
    assert defaults["Timeout"] < 30  # the HTTP API's integration timeout
    # A request can never still be running when its Idempotency-Key claim lapses (only the
    # functions behind the API answer requests; the webhook sender has its own Timeout).
    routed = {name for name in _functions() if name not in BACKGROUND}
    assert all(
        _functions()[name]["Properties"].get("Timeout", defaults["Timeout"]) * 1000
        < idempotency.IN_PROGRESS_MS
        for name in routed
    )
    # A silent DynamoDB is given up (the client's attempts, timeouts and backoff) with time
    # left to answer 503 in the envelope before the function times out.
    assert all(
        f["Properties"].get("Timeout", defaults["Timeout"]) >= store_client.WORST_CASE_S + 2
        for f in _functions().values()
    )
    config: Any = store_client.client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (
        store_client.CONNECT_TIMEOUT_S,
        store_client.READ_TIMEOUT_S,
    )
    assert config.retries == {"mode": "standard", "total_max_attempts": store_client.SDK_ATTEMPTS}
    assert defaults["Layers"] == [{"Ref": "DomainLayer"}]
    layer = RESOURCES["DomainLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/domain/"
    env = defaults["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "CouponTable"}
    assert env["TIME_ZONE"] == {"Ref": "TimeZone"}
    assert env["PUBLIC_BASE_URL"] == {"Ref": "PublicBaseUrl"}
    assert TEMPLATE["Parameters"]["TimeZone"]["Default"] == "UTC"


def test_everything_is_built_with_its_bytecode() -> None:
    """The layer and every function are built by a Makefile that ships Python 3.13 bytecode
    (layers/domain/Makefile, functions/Makefile; tests/tooling/test_layer_build.py checks what
    they make), the layer for the functions' architecture."""
    layer = RESOURCES["DomainLayer"]
    architectures = TEMPLATE["Globals"]["Function"]["Architectures"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": architectures[0]}
    assert layer["Properties"]["CompatibleArchitectures"] == architectures
    for name, function in _functions().items():
        assert function["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}, name
        assert "Architectures" not in function["Properties"], name


def test_table_is_durable_and_on_demand() -> None:
    tables = [r for r in RESOURCES.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1
    table = tables[0]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["TimeToLiveSpecification"]["Enabled"] is True
    # The webhooks' events come from its stream: what changed, before and after.
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_outputs_name_the_api_url_and_table() -> None:
    assert {"ApiUrl", "TableName"} <= set(TEMPLATE["Outputs"])


def test_handlers_stay_thin_and_never_touch_boto3() -> None:
    root = Path(__file__).resolve().parents[2]
    for function in _functions().values():
        source = (root / function["Properties"]["CodeUri"] / "app.py").read_text()
        code_lines = [line for line in source.splitlines() if line.strip()]
        assert len(code_lines) <= 12
        assert "boto" not in source and "dynamodb" not in source.lower()


# -- operations: logs, alarms, notifications ----------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
ABSENT = object()  # what !Ref AWS::NoValue leaves: nothing
ALARM = "AWS::CloudWatch::Alarm"


def _alarms() -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == ALARM}


def _defaults() -> dict[str, Any]:
    return {name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()}


def _condition(name: str, parameters: dict[str, Any]) -> bool:
    return bool(_evaluate(TEMPLATE["Conditions"][name], parameters))


def _evaluate(value: Any, parameters: dict[str, Any]) -> Any:
    """The template's value for these parameter values, as CloudFormation resolves it: the
    condition functions, Fn::If, parameter Refs, and AWS::NoValue removed from lists and maps
    (other Refs and functions are left as they are)."""
    if isinstance(value, list):
        resolved = [_evaluate(item, parameters) for item in value]
        return [item for item in resolved if item is not ABSENT]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _INTRINSICS:
        ((function, args),) = value.items()
        return _INTRINSICS[function](args, parameters)
    fields = {key: _evaluate(item, parameters) for key, item in value.items()}
    return {key: item for key, item in fields.items() if item is not ABSENT}


def _ref(name: str, parameters: dict[str, Any]) -> Any:
    if name == "AWS::NoValue":
        return ABSENT
    return parameters.get(name, {"Ref": name})


def _if(args: list[Any], parameters: dict[str, Any]) -> Any:
    name, if_true, if_false = args
    return _evaluate(if_true if _condition(name, parameters) else if_false, parameters)


_INTRINSICS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "Ref": _ref,
    "Condition": _condition,
    "Fn::If": _if,
    "Fn::Equals": lambda args, p: _evaluate(args[0], p) == _evaluate(args[1], p),
    "Fn::Not": lambda args, p: not _evaluate(args[0], p),
    "Fn::And": lambda args, p: all(_evaluate(arg, p) for arg in args),
    "Fn::Or": lambda args, p: any(_evaluate(arg, p) for arg in args),
}


def test_log_retention_is_a_parameter_of_the_values_cloudwatch_accepts() -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # type: ignore[import-untyped]

    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["Type"] == "Number" and parameter["Default"] == 30
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Logs::LogGroup")
    assert parameter["AllowedValues"] == schema.schema["properties"]["RetentionInDays"]["enum"]
    log_groups = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert "CouponApiAccessLogs" in log_groups and len(log_groups) == len(_functions()) + 1
    for name, log_group in log_groups.items():  # every one, the API's access logs too
        assert log_group["Properties"] == {"RetentionInDays": {"Ref": "LogRetentionDays"}}, name


def test_every_function_logs_json_into_its_own_log_group() -> None:
    """Each function writes to a log group of the template (not /aws/lambda/<name>, which Lambda
    would create by itself, kept forever), in JSON at the level its Powertools Logger logs."""
    logging_config = TEMPLATE["Globals"]["Function"]["LoggingConfig"]
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert logging_config["LogFormat"] == "JSON"
    # Lambda's AWS_LAMBDA_LOG_LEVEL wins over POWERTOOLS_LOG_LEVEL in Powertools' Logger; EMF
    # lines have no level and count as INFO, so anything above INFO would drop the metrics.
    assert logging_config["ApplicationLogLevel"] == variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert logging_config["SystemLogLevel"] == "INFO"  # keeps the REPORT line of each request
    assert "LogGroup" not in logging_config
    used = []
    for name, function in _functions().items():
        assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
        assert RESOURCES[f"{name}LogGroup"]["Type"] == "AWS::Logs::LogGroup", name
        assert "LogGroupName" not in RESOURCES[f"{name}LogGroup"]["Properties"], name
        used.append(f"{name}LogGroup")
    assert len(set(used)) == len(used) == len(_functions())


def test_every_alarm_treats_missing_data_as_fine_and_fires_on_one_event() -> None:
    assert len(_alarms()) == 2 * len(_functions()) + 4
    for name, alarm in _alarms().items():
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1), name
        # A count summed over the period; a queue's depth (a gauge): its most.
        statistic = "Maximum" if name == "WebhookDeadLetters" else "Sum"
        assert alarm.get("Period", 300) == 300, name
        assert alarm.get("Statistic", "Sum") == statistic, name
        assert len(alarm["AlarmDescription"]) <= 1024, name


def _single_metric(alarm: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert len(dimensions) == len(alarm["Dimensions"])
    return alarm["Namespace"], alarm["MetricName"], dimensions


def test_every_function_has_its_errors_and_throttles_alarms() -> None:
    """Lambda's Errors and Throttles, per function: a function added later without its alarms
    (or an alarm left behind for a function removed) fails here."""
    lambda_alarms = {
        name: _single_metric(alarm)
        for name, alarm in _alarms().items()
        if alarm.get("Namespace") == "AWS/Lambda"
    }
    expected = {
        f"{function}{metric}": ("AWS/Lambda", metric, {"FunctionName": {"Ref": function}})
        for function in _functions()
        for metric in ("Errors", "Throttles")
    }
    assert lambda_alarms == expected


def test_api_5xx_alarm_reads_the_http_api_metric() -> None:
    """An HTTP API publishes `5xx` by ApiId (a REST API publishes 5XXError by ApiName)."""
    assert RESOURCES["CouponApi"]["Type"] == "AWS::Serverless::HttpApi"
    assert _single_metric(_alarms()["ApiServerErrors"]) == (
        "AWS/ApiGateway",
        "5xx",
        {"ApiId": {"Ref": "CouponApi"}},
    )


def test_dynamodb_throttling_alarm_reads_the_table_and_every_index() -> None:
    """Read and write throttle events of the table (dimension TableName) and of each index
    (TableName and GlobalSecondaryIndexName: the table's own figures leave them out), summed
    with the missing points as 0, within a metric-math alarm's 10 metrics."""
    alarm = _alarms()["DynamoDbThrottles"]
    queries = alarm["Metrics"]
    assert len(queries) <= 11  # 10 metrics and the expression
    (expression,) = [q for q in queries if "Expression" in q]
    assert expression["Expression"] == "SUM(FILL(METRICS(), 0))" and expression["ReturnData"]
    read = set()
    for query in queries:
        if query is expression:
            continue
        assert query["ReturnData"] is False
        stat = query["MetricStat"]
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        metric = stat["Metric"]
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert metric["Namespace"] == "AWS/DynamoDB"
        assert dimensions.pop("TableName") == {"Ref": "CouponTable"}
        read.add((metric["MetricName"], dimensions.get("GlobalSecondaryIndexName")))
    indexes = RESOURCES["CouponTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert read == {
        (f"{kind}ThrottleEvents", index)
        for kind in ("Read", "Write")
        for index in [None, *(i["IndexName"] for i in indexes)]
    }


def test_storage_busy_alarm_reads_what_the_functions_count() -> None:
    """Our own metric: its namespace and service come from the functions' environment, and
    Powertools' single_metric adds the service as the one dimension
    (tests/unit/test_observability.py checks the line a refused request writes)."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert _single_metric(_alarms()["StorageBusy"]) == (
        variables["POWERTOOLS_METRICS_NAMESPACE"],
        "StorageBusy",
        {"service": variables["POWERTOOLS_SERVICE_NAME"]},
    )


TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:ops-alerts"


@pytest.mark.parametrize(
    ("email", "topic_arn"),
    [("", ""), ("ops@example.com", ""), ("", TOPIC_ARN), ("ops@example.com", TOPIC_ARN)],
)
def test_alarms_notify_whichever_topic_is_given(email: str, topic_arn: str) -> None:
    """AlarmEmail makes a topic subscribed by that address, AlarmTopicArn names one that
    exists; every alarm notifies each of those given, on alarm and back to OK, and nothing at
    all when neither is."""
    parameters = {**_defaults(), "AlarmEmail": email, "AlarmTopicArn": topic_arn}
    expected = ([{"Ref": "AlarmTopic"}] if email else []) + ([topic_arn] if topic_arn else [])
    for name, alarm in _alarms().items():
        properties = _evaluate(alarm, parameters)
        assert properties.get("AlarmActions", []) == expected, name
        assert properties.get("OKActions", []) == expected, name
        assert "InsufficientDataActions" not in properties, name
    made = {
        name
        for name, resource in RESOURCES.items()
        if "Condition" not in resource or _condition(resource["Condition"], parameters)
    }
    assert ({"AlarmTopic", "AlarmEmailSubscription"} <= made) is bool(email)
    assert not {"AlarmTopic", "AlarmEmailSubscription"} & made or email
    subscription = _evaluate(RESOURCES["AlarmEmailSubscription"]["Properties"], parameters)
    assert subscription == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": email,
    }


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("AlarmEmail", "", True),
        ("AlarmEmail", "ops@example.com", True),
        ("AlarmEmail", "ops at example.com", False),
        ("AlarmEmail", "a@b.c, d@e.f", False),
        ("AlarmTopicArn", "", True),
        ("AlarmTopicArn", TOPIC_ARN, True),
        ("AlarmTopicArn", "arn:aws-cn:sns:cn-north-1:123456789012:ops", True),
        ("AlarmTopicArn", "ops-alerts", False),
        ("AlarmTopicArn", "arn:aws:sqs:eu-west-1:123456789012:ops-alerts", False),
    ],
)
def test_notification_parameters_are_optional_and_checked(
    parameter: str, value: str, allowed: bool
) -> None:
    """CloudFormation matches AllowedPattern against the whole value."""
    definition = TEMPLATE["Parameters"][parameter]
    assert definition["Default"] == ""
    assert (re.fullmatch(definition["AllowedPattern"], value) is not None) is allowed


def test_samconfig_deploys_without_a_question_but_the_changeset() -> None:
    """`sam deploy` reads [default.deploy.parameters]: no --guided (whose per-function "has no
    authentication" questions end in "Security Constraints Not Satisfied" by default), no
    region (the AWS_REGION or profile's), and nothing for `sam build` or `sam validate`."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    assert set(config) == {"version", "default"} and set(config["default"]) == {"deploy"}
    parameters = config["default"]["deploy"]["parameters"]
    assert parameters["stack_name"] == "coupon-api"
    assert parameters["resolve_s3"] is True and "s3_bucket" not in parameters  # one or the other
    assert parameters["confirm_changeset"] is True
    assert parameters["fail_on_empty_changeset"] is False
    assert not {"region", "profile", "parameter_overrides", "guided"} & set(parameters)
    # CAPABILITY_IAM is all the template needs: SAM makes the functions' roles without names
    # (CAPABILITY_NAMED_IAM), and there is no nested application (CAPABILITY_AUTO_EXPAND).
    assert parameters["capabilities"] == "CAPABILITY_IAM"
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"
    types = {resource["Type"] for resource in RESOURCES.values()}
    assert not {"AWS::Serverless::Application", "AWS::CloudFormation::Stack"} & types
    assert not {t for t in types if t.startswith("AWS::IAM::")}
    assert not any("RoleName" in f["Properties"] for f in _functions().values())


# -- webhooks: the table's stream, the queue, the sender (DESIGN 2.9) ---------------------------


def _event_source(function: str) -> dict[str, Any]:
    (event,) = RESOURCES[function]["Properties"]["Events"].values()
    properties: dict[str, Any] = event["Properties"]
    source = properties["Queue"] if event["Type"] == "SQS" else properties["Stream"]
    assert (event["Type"], source) == BACKGROUND[function]
    return properties


def test_webhook_events_read_the_stream_of_coupons_and_moved_out_records_only() -> None:
    """The events function runs on the table's stream, only for coupon items (SK "C") and the
    redemption records a delete moves out (SK "R#..."); a failing record is retried alone
    (batches halved, partial failures reported), a bounded number of times."""
    source = _event_source("WebhookEventsFunction")
    assert source["StartingPosition"] == "LATEST" and source["BatchSize"] == 100
    assert source["MaximumRetryAttempts"] == 10 and source["BisectBatchOnFunctionError"] is True
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    patterns = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]
    assert patterns == [
        {"dynamodb": {"Keys": {"SK": {"S": ["C"]}}}},
        {"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "R#"}]}}}},
    ]


def test_webhook_sender_reads_the_queue_with_time_for_a_batch() -> None:
    """Up to 10 deliveries a batch, each at most 5 s (webhooks.delivery), one after the other,
    within the sender's Timeout; the queue hides a message for 6 times that (AWS's advice for
    an SQS event source), keeps it past the retries' 24 h and more, and moves one the sender
    keeps failing on to the dead-letter queue, whose first message fires an alarm."""
    source = _event_source("WebhookSenderFunction")
    assert source["BatchSize"] == 10
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    timeout = RESOURCES["WebhookSenderFunction"]["Properties"]["Timeout"]
    assert timeout >= source["BatchSize"] * 5 + 5
    queue = RESOURCES["WebhookQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    assert queue["Properties"]["MessageRetentionPeriod"] > 2 * 24 * 3600
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 20,
    }
    dead = RESOURCES["WebhookDeadLetterQueue"]
    assert dead["Type"] == "AWS::SQS::Queue"
    assert dead["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600  # SQS's most
    for name in ("WebhookQueue", "WebhookDeadLetterQueue"):
        assert RESOURCES[name]["Properties"]["SqsManagedSseEnabled"] is True, name
    alarm = _alarms()["WebhookDeadLetters"]
    assert _single_metric(alarm) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}},
    )


def test_the_functions_that_queue_or_read_the_queue_know_its_url() -> None:
    for name, function in _functions().items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if name in QUEUE_GRANTS:
            assert variables == {"WEBHOOK_QUEUE_URL": {"Ref": "WebhookQueue"}}, name
        else:
            assert variables == {}, name


def test_local_webhooks_are_a_parameter_off_by_default() -> None:
    """http://127.0.0.1 or localhost as a webhook URL: for the dev stack only, never by
    default."""
    parameter = TEMPLATE["Parameters"]["AllowLocalWebhooks"]
    assert parameter["Type"] == "String" and parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["false", "true"]
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WEBHOOK_ALLOW_LOCAL"] == {"Ref": "AllowLocalWebhooks"}
