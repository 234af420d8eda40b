"""template.yaml is the product's shape: one function per route, one layer, one table, and
each function allowed exactly the DynamoDB actions its route needs."""

import fnmatch
import json
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


def _keys_of(route: str) -> str:
    return f"A#*#IK#{route}#*"


KEY_RECORD = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}  # claimed, completed, freed
# function -> the (action, leading-key pattern) pairs it is granted; GetItem on API_KEYS is
# authentication, and the only grant that reaches API keys at all.
GRANTS: dict[str, set[tuple[str, str]]] = {
    "CreateFunction": {("GetItem", API_KEYS), ("PutItem", COUPONS)}
    | {(action, _keys_of("create")) for action in KEY_RECORD},
    "CreateBulkFunction": {("GetItem", API_KEYS), ("PutItem", COUPONS)}
    | {(action, _keys_of("create/bulk")) for action in KEY_RECORD},
    "UpdateFunction": {("GetItem", API_KEYS), ("GetItem", COUPONS), ("UpdateItem", COUPONS)},
    "ValidateFunction": {("GetItem", API_KEYS), ("GetItem", COUPONS)},
    "RedeemFunction": {
        ("GetItem", API_KEYS),
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
        ("Query", INDEX_PARTITIONS),
    },
    "DeleteFunction": {("GetItem", API_KEYS), ("DeleteItem", COUPONS)},
    "NotFoundFunction": set(),
}


REQUEST_BUDGET = "A#*#RATE"  # the account's requests of the minute (limits.py)
for _function, _grants in GRANTS.items():
    if _function != "NotFoundFunction":  # every authenticated function counts its requests
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
            assert event["Type"] == "HttpApi"
            assert event["Properties"]["ApiId"] == {"Ref": "CouponApi"}
            found[f"{event['Properties']['Method']} {event['Properties']['Path']}"] = name
    return found


def _dynamodb_actions(function: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in function["Properties"].get("Policies", []):
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Resource"] in (TABLE, INDEXES)
            actions |= {action.removeprefix("dynamodb:") for action in statement["Action"]}
    return actions


def test_every_route_has_its_own_function_and_folder() -> None:
    assert _routes() == {route: function for route, (function, _) in EXPECTED.items()}
    code_dirs = [f["Properties"]["CodeUri"] for f in _functions().values()]
    assert len(code_dirs) == len(set(code_dirs)) == len(_functions())
    assert all(uri.startswith("functions/") for uri in code_dirs)


def test_each_function_gets_exactly_the_actions_its_route_needs() -> None:
    for function_name, actions in {f: a for f, a in EXPECTED.values()}.items():
        granted = _dynamodb_actions(_functions()[function_name])
        assert granted == actions, function_name
        assert "*" not in "".join(granted) and "Scan" not in granted


READ_ONLY = {"GetItem", "BatchGetItem", "Query"}
# Properties with which SAM would add permissions of its own to a function's role (X-Ray,
# VPC networking, a dead-letter queue, event sources' pollers, connectors). Without them its
# generated role gets only AWSLambdaBasicExecutionRole (writing the function's own logs).
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
    its indexes and nothing else; only Query reaches the indexes."""
    allowed = {action for _, actions in EXPECTED.values() for action in actions}
    assert "Scan" not in allowed and not any("*" in action for action in allowed)
    for name, function in _functions().items():
        properties = function["Properties"]
        assert "Role" not in properties and not SAM_ADDS_POLICIES & set(properties), name
        for statement in _statements(function):
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
    defaults = TEMPLATE["Globals"]["Function"]
    assert not {"Policies", "Role", *SAM_ADDS_POLICIES} & set(defaults)
    # Nowhere in the whole template a wildcard or a Scan, nor any other IAM resource.
    for text in _strings(TEMPLATE["Resources"]):
        assert not text.startswith("dynamodb:") or text.removeprefix("dynamodb:") in allowed
        assert text not in ("*", "dynamodb:*", "dynamodb:Scan"), text
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
    """Every GET route (validate, list, redemptions) only reads the account's data: its one
    write is the count of the account's requests (limits.py), and nothing else is granted
    (no Put, Delete, batch write or transaction; no other Update)."""
    readers = {function for route, (function, _) in EXPECTED.items() if route.startswith("GET ")}
    assert readers == {"ValidateFunction", "ListFunction", "RedemptionsFunction"}
    for function in readers:
        writes = {grant for grant in GRANTS[function] if grant[0] not in READ_ONLY}
        assert writes == {("UpdateItem", REQUEST_BUDGET)}, function


def test_list_queries_only_the_indexes() -> None:
    statements = [
        s for p in _functions()["ListFunction"]["Properties"]["Policies"] for s in p["Statement"]
    ]
    assert [s["Resource"] for s in statements if "dynamodb:Query" in s["Action"]] == [INDEXES]


def test_runtime_layer_and_limits() -> None:
    defaults = TEMPLATE["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.13" and defaults["Architectures"] == ["arm64"]
    assert defaults["Timeout"] < 30  # the HTTP API's integration timeout
    # A request can never still be running when its Idempotency-Key claim lapses.
    assert all(
        f["Properties"].get("Timeout", defaults["Timeout"]) * 1000 < idempotency.IN_PROGRESS_MS
        for f in _functions().values()
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


def test_outputs_name_the_api_url_and_table() -> None:
    assert {"ApiUrl", "TableName"} <= set(TEMPLATE["Outputs"])


def test_handlers_stay_thin_and_never_touch_boto3() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for function in _functions().values():
        source = (root / function["Properties"]["CodeUri"] / "app.py").read_text()
        code_lines = [line for line in source.splitlines() if line.strip()]
        assert len(code_lines) <= 12
        assert "boto" not in source and "dynamodb" not in source.lower()
