"""The dev stack's reading of template.yaml, its event building and its serve helpers."""

import base64
import json
import os
import shlex
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from devstack import serve
from devstack.gateway import HttpResponse, build_event
from devstack.template import (
    REPO_ROOT,
    Route,
    function_environment,
    load_template,
    routes,
    table_create_kwargs,
    ttl_attribute,
)

API = "/api/coupon/v1"


def write_template(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_valid_create_table(kwargs: dict[str, Any]) -> None:
    """What botocore itself would accept as CreateTable parameters."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    shape = model.operation_model("CreateTable").input_shape
    assert shape is not None
    validate_parameters(kwargs, shape)


def table_properties() -> dict[str, Any]:
    resources = load_template()["Resources"]
    (table,) = [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    properties: dict[str, Any] = table["Properties"]
    return properties


# -- template loading ---------------------------------------------------------------------------


def test_short_cfn_tags_become_long_form(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
A: !Ref Thing
B: !GetAtt Table.Arn
C: !GetAtt Db.Endpoint.Address
D: !GetAtt [Table, StreamArn]
E: !Sub "arn:${AWS::Partition}:x"
F: !Sub ["${A}-b", {A: !Ref Thing}]
G: !Join [",", [a, !Ref Thing]]
H: !If [IsProd, 1, !Ref AWS::NoValue]
I: !Not [!Equals [!Ref Env, prod]]
J: !Select [0, !GetAZs ""]
K: !Split [",", "a,b"]
L: !FindInMap [Map, !Ref AWS::Region, Key]
M: !ImportValue Shared
N: !Base64 hello
O: !Condition IsProd
""",
    )
    assert load_template(path) == {
        "A": {"Ref": "Thing"},
        "B": {"Fn::GetAtt": ["Table", "Arn"]},
        "C": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "D": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "E": {"Fn::Sub": "arn:${AWS::Partition}:x"},
        "F": {"Fn::Sub": ["${A}-b", {"A": {"Ref": "Thing"}}]},
        "G": {"Fn::Join": [",", ["a", {"Ref": "Thing"}]]},
        "H": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
        "I": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "prod"]}]},
        "J": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "K": {"Fn::Split": [",", "a,b"]},
        "L": {"Fn::FindInMap": ["Map", {"Ref": "AWS::Region"}, "Key"]},
        "M": {"Fn::ImportValue": "Shared"},
        "N": {"Fn::Base64": "hello"},
        "O": {"Condition": "IsProd"},
    }


def test_real_template_loads_with_tags() -> None:
    template = load_template()
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "DomainLayer"}]
    policy = template["Resources"]["CreateFunction"]["Properties"]["Policies"][0]
    assert policy["Statement"][0]["Resource"] == {"Fn::GetAtt": ["CouponTable", "Arn"]}


def test_load_template_returns_a_copy_of_the_cached_parse() -> None:
    load_template()["Resources"].clear()
    assert load_template()["Resources"], "mutating a result must not corrupt the cache"


# -- table --------------------------------------------------------------------------------------


def test_table_kwargs_match_the_template() -> None:
    props = table_properties()
    kwargs = table_create_kwargs("coupons-x")
    assert kwargs["TableName"] == "coupons-x"
    assert kwargs["KeySchema"] == props["KeySchema"]
    assert kwargs["AttributeDefinitions"] == props["AttributeDefinitions"]
    assert kwargs["BillingMode"] == props["BillingMode"]
    for cfn_only in ("PointInTimeRecoverySpecification", "TimeToLiveSpecification"):
        assert cfn_only not in kwargs
    assert_valid_create_table(kwargs)


def test_validation_helper_rejects_cloudformation_only_properties() -> None:
    kwargs = table_create_kwargs("coupons-x")
    with pytest.raises(ParamValidationError):
        assert_valid_create_table({**kwargs, **{"TimeToLiveSpecification": {"Enabled": True}}})


def test_table_kwargs_keep_indexes_and_drop_what_create_table_rejects(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: "5", WriteCapacityUnits: 5}
      AttributeDefinitions:
        - {AttributeName: PK, AttributeType: S}
        - {AttributeName: SK, AttributeType: S}
        - {AttributeName: G, AttributeType: N}
      KeySchema:
        - {AttributeName: PK, KeyType: HASH}
        - {AttributeName: SK, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: ByG
          KeySchema: [{AttributeName: G, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
          ContributorInsightsSpecification: {Enabled: true}
      LocalSecondaryIndexes:
        - IndexName: ByPkG
          KeySchema:
            - {AttributeName: PK, KeyType: HASH}
            - {AttributeName: G, KeyType: RANGE}
          Projection: {ProjectionType: KEYS_ONLY}
      SSESpecification: {SSEEnabled: true}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      Tags: [{Key: a, Value: b}]
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: false}
""",
    )
    kwargs = table_create_kwargs("t-1", path)
    assert_valid_create_table(kwargs)
    assert kwargs["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert [i["IndexName"] for i in kwargs["GlobalSecondaryIndexes"]] == ["ByG"]
    assert [i["IndexName"] for i in kwargs["LocalSecondaryIndexes"]] == ["ByPkG"]
    assert kwargs["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert "SSESpecification" not in kwargs and "Tags" not in kwargs
    assert ttl_attribute(path) is None  # disabled in this template


def test_ttl_attribute_comes_from_the_template() -> None:
    spec = table_properties()["TimeToLiveSpecification"]
    assert spec["Enabled"] is True
    assert ttl_attribute() == spec["AttributeName"]


# -- routes -------------------------------------------------------------------------------------


# Run by an event source (the table's stream, the webhook queue), not by a route (DESIGN 2.9).
BACKGROUND_FUNCTIONS = {"WebhookEventsFunction", "WebhookSenderFunction"}


def test_every_function_has_a_route_and_its_own_code_dir_with_app_py() -> None:
    functions = {
        logical_id: res["Properties"]
        for logical_id, res in load_template()["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    assert functions
    by_function: dict[str, set[Path]] = {}
    for route in routes():
        by_function.setdefault(route.function_logical_id, set()).add(route.code_dir)
    assert set(by_function) == set(functions) - BACKGROUND_FUNCTIONS
    for logical_id in BACKGROUND_FUNCTIONS:  # no HttpApi event at all
        events = functions[logical_id]["Events"].values()
        assert {event["Type"] for event in events} <= {"DynamoDB", "SQS"}, logical_id
        by_function[logical_id] = {(REPO_ROOT / functions[logical_id]["CodeUri"]).resolve()}
    code_dirs = [dirs.pop() for dirs in by_function.values() if len(dirs) == 1]
    assert len(code_dirs) == len(functions), "one CodeUri per function"
    assert len(set(code_dirs)) == len(code_dirs), "CodeUri must be distinct"
    for logical_id, props in functions.items():
        code_dir = (REPO_ROOT / props["CodeUri"]).resolve()
        assert code_dir in code_dirs
        assert (code_dir / "app.py").is_file(), f"{logical_id}: {code_dir}/app.py missing"


def test_routes_of_the_template() -> None:
    keys = {route.route_key: route for route in routes()}
    assert keys[f"POST {API}/redeem"].function_logical_id == "RedeemFunction"
    assert keys[f"PUT {API}/redeem"].function_logical_id == "RedeemFunction"
    assert {f"POST {API}/create", f"PUT {API}/update", f"GET {API}/validate"} <= set(keys)
    assert f"DELETE {API}/delete" in keys
    default = keys["$default"]
    assert (default.method, default.path) == ("ANY", "$default")
    handler = load_template()["Globals"]["Function"]["Handler"]
    assert all(route.handler == handler for route in routes())


def test_routes_handler_and_defaults(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
Globals:
  Function: {Handler: app.handler, Timeout: 7}
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fa/
      Handler: main.run
      Events:
        Get: {Type: HttpApi, Properties: {Method: get, Path: /a}}
        Queue: {Type: SQS, Properties: {Queue: q}}
  B:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fb
      Events:
        CatchAll: {Type: HttpApi}
""",
    )
    assert routes(path) == [
        Route("GET", "/a", "A", (tmp_path / "fa").resolve(), "main.run", timeout=7),
        Route("ANY", "$default", "B", (tmp_path / "fb").resolve(), "app.handler", timeout=7),
    ]


# -- environment --------------------------------------------------------------------------------


def test_function_environment_resolves_parameters_and_table() -> None:
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    env = function_environment("coupons-x")
    conditional = {name for name, value in variables.items() if "Fn::If" in value}
    assert conditional == {"AWS_ENDPOINT_URL_DYNAMODB"}  # absent unless a stack sets it
    assert set(env) == set(variables) - conditional
    assert env["TABLE_NAME"] == "coupons-x"
    assert env["TIME_ZONE"] == template["Parameters"]["TimeZone"]["Default"]
    assert env["PUBLIC_BASE_URL"] == template["Parameters"]["PublicBaseUrl"]["Default"]
    assert all(isinstance(value, str) for value in env.values())
    assert function_environment("t", {"TIME_ZONE": "Asia/Seoul"})["TIME_ZONE"] == "Asia/Seoul"


def test_function_environment_refuses_what_it_cannot_resolve(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
Globals:
  Function:
    Environment:
      Variables: {ARN: !GetAtt T.Arn, N: 3, FLAG: true}
Resources:
  T: {Type: AWS::DynamoDB::Table, Properties: {}}
""",
    )
    with pytest.raises(ValueError, match="ARN"):
        function_environment("t", path=path)
    env = function_environment("t", {"ARN": "arn:x"}, path=path)
    assert env == {"ARN": "arn:x", "N": "3", "FLAG": "true"}


# -- event and response mapping -----------------------------------------------------------------


def test_build_event_is_a_v2_payload() -> None:
    now = datetime(2026, 3, 5, 7, 8, 9, 123000, tzinfo=UTC)
    event = build_event(
        method="post",
        target=f"{API}/create?a=1&b=x%20y&a=2&empty=",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "curl/8"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
            ("Cookie", "s=1; t=2"),
        ],
        body=b'{"k": "\xc3\xa9"}',
        route_key=f"POST {API}/create",
        source_ip="10.0.0.9",
        request_id="rid",
        now=now,
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == f"POST {API}/create"
    assert event["rawPath"] == f"{API}/create"
    assert event["rawQueryString"] == "a=1&b=x%20y&a=2&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-multi"] == "1,2"
    assert event["headers"]["user-agent"] == "curl/8"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"k": "é"}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": f"{API}/create",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.0.0.9",
        "userAgent": "curl/8",
    }
    assert (ctx["requestId"], ctx["stage"]) == ("rid", "$default")
    assert (ctx["domainName"], ctx["domainPrefix"]) == ("127.0.0.1", "127")
    assert ctx["time"] == "05/Mar/2026:07:08:09 +0000"
    assert ctx["timeEpoch"] == 1772694489123


def test_build_event_omits_empty_parts_and_base64_encodes_binary() -> None:
    empty = build_event(method="GET", target="/x", headers=[], body=b"", route_key="$default")
    for absent in ("body", "queryStringParameters", "cookies"):
        assert absent not in empty
    assert empty["isBase64Encoded"] is False and empty["rawQueryString"] == ""
    binary = build_event(
        method="POST", target="/x", headers=[], body=b"\xff\x00", route_key="$default"
    )
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"


def test_response_mapping() -> None:
    response = HttpResponse.from_result(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain"},
            "multiValueHeaders": {"X-M": ["1", "2"]},
            "cookies": ["a=1", "b=2"],
            "body": base64.b64encode(b"\x00bin").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert response.body == b"\x00bin"
    assert ("X-M", "1") in response.headers and ("X-M", "2") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    # Without statusCode API Gateway returns the result itself as a JSON 200.
    plain = HttpResponse.from_result({"ok": True})
    assert (plain.status, json.loads(plain.body)) == (200, {"ok": True})
    with pytest.raises(ValueError):
        HttpResponse.from_result({"statusCode": "200"})


# -- serve helpers ------------------------------------------------------------------------------


def test_the_kept_key_is_private(tmp_path: Path) -> None:
    assert serve.kept_api_key(tmp_path) is None
    serve.keep_api_key("a-key", tmp_path)
    assert serve.kept_api_key(tmp_path) == "a-key"
    assert stat.S_IMODE((tmp_path / serve.KEY_FILE).stat().st_mode) == 0o600


def test_handler_environment_points_boto3_at_the_local_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIME_ZONE", "Asia/Seoul")
    monkeypatch.setenv("TABLE_NAME", "not-this-one")
    env = serve.handler_environment("http://127.0.0.1:8123")
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8123"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["TABLE_NAME"] == serve.TABLE_NAME
    assert env["TIME_ZONE"] == "Asia/Seoul"
    assert env["AWS_ACCESS_KEY_ID"] == os.environ["AWS_ACCESS_KEY_ID"]


def test_curl_examples_cover_every_endpoint() -> None:
    examples = dict(serve.curl_examples(f"http://127.0.0.1:3000{API}", "k-1", date(2026, 5, 2)))
    # The coupon page's routes are for a browser, no curl line: the banner gives the page of
    # a sample coupon instead (test_devstack_serve.py).
    assert set(examples) == {r.code_dir.name for r in routes()} - {"not_found", "page", "page_use"}
    routes_by_key = {route.route_key for route in routes()}
    for command in examples.values():
        argv = shlex.split(command)
        assert "Authorization: APIKey k-1" in argv
        method, url = argv[argv.index("-X") + 1], argv[argv.index("-X") + 2]
        path = url.removeprefix("http://127.0.0.1:3000").partition("?")[0]
        assert f"{method} {path}" in routes_by_key
    create = shlex.split(examples["create"])
    body = json.loads(create[create.index("-d") + 1])
    assert (body["strtYmd"], body["endYmd"]) == ("2026-05-02", "2027-12-31")
    assert body["cpnNo"] == "WELCOME2026"
    template = shlex.split(examples["template_create"])
    text = json.loads(template[template.index("-d") + 1])
    assert text["nm"] and "\n" in text["description"]  # a JSON newline, kept
    update = shlex.split(examples["template_update"])
    assert json.loads(update[update.index("-d") + 1])["tmplIdx"] == 1
    group = shlex.split(examples["group_create"])
    fields = json.loads(group[group.index("-d") + 1])
    assert fields["nm"] and fields["tmplIdx"] == 1  # the template made above
    update = shlex.split(examples["group_update"])
    assert json.loads(update[update.index("-d") + 1])["grpIdx"] == 1
    # In the order printed, nothing names a group or template before it is made, and a
    # template is deleted only after the group that refers to it.
    order = list(examples)
    assert order.index("template_create") < order.index("group_create")
    assert order.index("group_delete") < order.index("template_delete")
    bulk = shlex.split(examples["create_bulk"])
    assert "grpIdx" not in json.loads(bulk[bulk.index("-d") + 1])
    # The webhook: an https URL (the only kind a deployed stack takes), set before anything
    # reads, rotates or redelivers it; paused, so nothing is sent to the placeholder.
    webhook = shlex.split(examples["webhook_put"])
    sent = json.loads(webhook[webhook.index("-d") + 1])
    assert sent["url"].startswith("https://") and sent["enabled"] is False
    assert order.index("webhook_put") == min(order.index(n) for n in order if "webhook" in n)
    redeliver = shlex.split(examples["webhook_redeliver"])
    assert set(json.loads(redeliver[redeliver.index("-d") + 1])) == {"id"}
    assert "-d" not in shlex.split(examples["webhook_rotate"])  # no body
