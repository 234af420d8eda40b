"""The dev stack for real: DynamoDB Local from the npm package, and the gateway over HTTP."""

import base64
import http.client
import json
import socket
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack import dynamodb_local
from devstack.dynamodb_local import DynamoDBLocal, MotoServer, client, ensure_table
from devstack.gateway import Gateway
from devstack.template import Route, RouteTable, routes, table_create_kwargs, ttl_attribute

pytestmark = pytest.mark.integration


SLEEP = 0.3

ECHO_APP = f"""
import json
import time
from pathlib import Path

# Counts how often this module is executed (the gateway must load it once).
with open(Path(__file__).with_name("loads.txt"), "a") as fh:
    fh.write("loaded\\n")


def handler(event, context):
    if event.get("queryStringParameters", {{}}).get("sleep"):
        time.sleep({SLEEP})
    if event["rawPath"] == "/boom":
        raise RuntimeError("boom")
    if event["rawPath"] == "/binary":
        return {{
            "statusCode": 202,
            "headers": {{"Content-Type": "application/octet-stream", "X-One": "1"}},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "AP8=",
            "isBase64Encoded": True,
        }}
    return {{
        "statusCode": 200,
        "headers": {{"Content-Type": "application/json"}},
        "body": json.dumps({{
            "function": "{{name}}",
            "event": event,
            "context": {{
                "function_name": context.function_name,
                "aws_request_id": context.aws_request_id,
                "remaining": context.get_remaining_time_in_millis(),
            }},
        }}),
    }}
"""


# -- DynamoDB Local ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ddb(local_dynamodb: DynamoDBLocal) -> DynamoDBLocal:
    return local_dynamodb


def test_ensure_table_creates_the_template_table(local_ddb: DynamoDBLocal) -> None:
    assert local_ddb.endpoint.startswith("http://127.0.0.1:")
    assert ensure_table(local_ddb.endpoint, "coupons-it") is True
    assert ensure_table(local_ddb.endpoint, "coupons-it") is False  # idempotent
    ddb = client(local_ddb.endpoint)
    table = ddb.describe_table(TableName="coupons-it")["Table"]
    expected = table_create_kwargs("coupons-it")
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    ttl = ddb.describe_time_to_live(TableName="coupons-it")["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == ttl_attribute()


def test_ensure_table_adds_the_indexes_an_older_dev_table_lacks(local_ddb: DynamoDBLocal) -> None:
    ddb = client(local_ddb.endpoint)
    older = table_create_kwargs("coupons-older")
    wanted = sorted(index["IndexName"] for index in older.pop("GlobalSecondaryIndexes"))
    older["AttributeDefinitions"] = [
        a for a in older["AttributeDefinitions"] if a["AttributeName"] in ("PK", "SK")
    ]
    ddb.create_table(**older)
    assert ensure_table(local_ddb.endpoint, "coupons-older") is False
    table = ddb.describe_table(TableName="coupons-older")["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == wanted
    assert {i["IndexStatus"] for i in table["GlobalSecondaryIndexes"]} == {"ACTIVE"}


def test_data_persists_under_db_path_and_stop_ends_the_process(tmp_path: Path) -> None:
    item = {"PK": {"S": "A#1"}, "SK": {"S": "META"}}
    with DynamoDBLocal(db_path=tmp_path / "db", log_path=tmp_path / "ddb.log") as ddb:
        ensure_table(ddb.endpoint, "coupons-keep")
        client(ddb.endpoint).put_item(TableName="coupons-keep", Item=item)
        proc, port = ddb._proc, ddb.port
    assert proc is not None and proc.poll() is not None, "stop() must end DynamoDB Local"
    assert port is not None and not dynamodb_local.port_in_use(port)
    with DynamoDBLocal(db_path=tmp_path / "db") as again:
        got = client(again.endpoint).get_item(TableName="coupons-keep", Key=item)
    assert got.get("Item") == item


def test_start_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(RuntimeError, match="already in use"):
            DynamoDBLocal(port=busy.getsockname()[1]).start()


def test_moto_fallback_has_the_same_interface() -> None:
    with MotoServer() as moto:
        assert ensure_table(moto.endpoint, "coupons-moto") is True
        names = client(moto.endpoint).list_tables()["TableNames"]
    assert names == ["coupons-moto"]


# -- gateway -----------------------------------------------------------------------------------


def write_function(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "app.py").write_text(
        textwrap.dedent(ECHO_APP).replace("{name}", name), encoding="utf-8"
    )
    return directory


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    write_function(tmp_path / "echo", "echo")
    write_function(tmp_path / "fallback", "fallback")
    return tmp_path


def fake_routes(functions_dir: Path) -> list[Route]:
    echo, fallback = functions_dir / "echo", functions_dir / "fallback"
    return [
        Route("POST", "/api/echo", "EchoFunction", echo, "app.handler"),
        Route("GET", "/api/echo", "EchoFunction", echo, "app.handler"),
        Route("ANY", "/api/any", "EchoFunction", echo, "app.handler"),
        Route("ANY", "$default", "FallbackFunction", fallback, "app.handler"),
    ]


@pytest.fixture
def make_gateway(functions_dir: Path) -> Iterator[Any]:
    started: list[Gateway] = []

    def make(**options: Any) -> str:
        gateway = Gateway(fake_routes(functions_dir), quiet=True, **options)
        started.append(gateway)
        return gateway.start_in_thread()[1]

    yield make
    for gateway in started:
        gateway.shutdown()


def request(
    base_url: str,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.putrequest(method, target)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def echo(base_url: str, method: str, target: str, **kwargs: Any) -> dict[str, Any]:
    status, _, body = request(base_url, method, target, **kwargs)
    assert status == 200, body
    event: dict[str, Any] = json.loads(body)
    return event


def test_request_becomes_a_v2_event(make_gateway: Any) -> None:
    base_url = make_gateway()
    answer = echo(
        base_url,
        "POST",
        "/api/echo?cpnNo=abc&x=1&x=2",
        body=b'{"memo": "caf\xc3\xa9"}',
        headers=[
            ("Content-Type", "application/json"),
            ("X-Custom", "a"),
            ("X-CUSTOM", "b"),
            ("Authorization", "APIKey k"),
            ("Cookie", "s=1; t=2"),
        ],
    )
    event = answer["event"]
    assert answer["function"] == "echo"
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /api/echo"
    assert event["rawPath"] == "/api/echo"
    assert event["rawQueryString"] == "cpnNo=abc&x=1&x=2"
    assert event["queryStringParameters"] == {"cpnNo": "abc", "x": "1,2"}
    assert event["headers"]["x-custom"] == "a,b"
    assert event["headers"]["authorization"] == "APIKey k"
    assert event["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in event["headers"])
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["body"] == '{"memo": "café"}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/api/echo"
    assert ctx["http"]["sourceIp"] == "127.0.0.1" and ctx["stage"] == "$default"
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    assert answer["context"]["aws_request_id"] == ctx["requestId"]
    assert answer["context"]["function_name"] == "EchoFunction"
    assert 0 < answer["context"]["remaining"] <= 3000


def test_get_without_body_or_query_omits_them(make_gateway: Any) -> None:
    event = echo(make_gateway(), "GET", "/api/echo")["event"]
    assert event["routeKey"] == "GET /api/echo"
    assert "body" not in event and "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


def test_unmatched_requests_go_to_default(make_gateway: Any) -> None:
    base_url = make_gateway()
    for method, target in [("GET", "/nope?a=1"), ("DELETE", "/api/echo"), ("GET", "/api/echo/")]:
        answer = echo(base_url, method, target)
        assert answer["function"] == "fallback", (method, target)
        assert answer["event"]["routeKey"] == "$default"
        assert answer["event"]["requestContext"]["routeKey"] == "$default"
    any_route = echo(base_url, "PATCH", "/api/any")
    assert (any_route["function"], any_route["event"]["routeKey"]) == ("echo", "ANY /api/any")


def test_binary_body_is_base64_encoded(make_gateway: Any) -> None:
    event = echo(make_gateway(), "POST", "/api/echo", body=b"\xff\xfe\x00")["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00"


def test_handler_result_maps_to_the_http_response(make_gateway: Any) -> None:
    status, headers, body = request(make_gateway(), "GET", "/binary")
    assert status == 202
    assert body == b"\x00\xff"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-One"] == "1"
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_handler_exception_is_a_500_in_the_api_envelope(
    make_gateway: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, body = request(make_gateway(), "GET", "/boom")
    assert status == 500
    assert json.loads(body) == {"code": 5000, "message": "Internal error", "result": None}
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_body_over_the_cap_is_refused(make_gateway: Any) -> None:
    base_url = make_gateway(max_body=1024)
    status, _, _ = request(base_url, "POST", "/api/echo", body=b"x" * 1025)
    assert status == 413
    assert echo(base_url, "POST", "/api/echo", body=b"x" * 1024)["event"]["body"] == "x" * 1024


def concurrent_seconds(base_url: str, count: int) -> float:
    def one(_: int) -> dict[str, Any]:
        return echo(base_url, "GET", "/api/echo?sleep=1")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(one, range(count)))
    elapsed = time.monotonic() - started
    assert len({a["context"]["aws_request_id"] for a in answers}) == count
    return elapsed


def test_concurrent_requests_to_one_route_run_in_parallel(
    make_gateway: Any, functions_dir: Path
) -> None:
    # Cold: all eight hit a function that is not loaded yet; it must be loaded exactly once.
    elapsed = concurrent_seconds(make_gateway(), 8)
    assert elapsed < 1.5, f"8 x {SLEEP} s took {elapsed:.2f} s: requests were serialized"
    loads = (functions_dir / "echo" / "loads.txt").read_text().splitlines()
    assert loads == ["loaded"]


def test_serialize_runs_one_invocation_at_a_time(make_gateway: Any) -> None:
    elapsed = concurrent_seconds(make_gateway(serialize=True), 4)
    assert elapsed >= 4 * SLEEP - 0.05


def test_functions_in_different_dirs_with_the_same_file_name_stay_apart(
    make_gateway: Any,
) -> None:
    base_url = make_gateway()
    assert echo(base_url, "GET", "/api/echo")["function"] == "echo"
    assert echo(base_url, "GET", "/elsewhere")["function"] == "fallback"
    assert echo(base_url, "GET", "/api/echo")["function"] == "echo"


# -- templated routes (/c/{token}) ----------------------------------------------------------


def _table_routes(functions_dir: Path) -> list[Route]:
    echo = functions_dir / "echo"
    return [
        Route("GET", "/c/{token}", "PageFunction", echo, "app.handler"),
        Route("POST", "/c/{token}/use", "PageUseFunction", echo, "app.handler"),
        Route("GET", "/c/about", "AboutFunction", echo, "app.handler"),
        Route("ANY", "/any/{name}", "AnyFunction", echo, "app.handler"),
        Route("ANY", "$default", "FallbackFunction", functions_dir / "fallback", "app.handler"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/c/abc-_123", "PageFunction", {"token": "abc-_123"}),
        ("get", "/c/abc", "PageFunction", {"token": "abc"}),
        ("POST", "/c/abc/use", "PageUseFunction", {"token": "abc"}),
        ("GET", "/c/about", "AboutFunction", {}),  # an exact path wins over a templated one
        ("DELETE", "/any/x", "AnyFunction", {"name": "x"}),
        ("POST", "/c/abc", "FallbackFunction", {}),  # no such method: $default
        ("GET", "/c/abc/use", "FallbackFunction", {}),
        ("GET", "/c/", "FallbackFunction", {}),  # a parameter is never empty
        ("GET", "/c/a/b", "FallbackFunction", {}),  # nor more than one segment
        ("POST", "/c//use", "FallbackFunction", {}),
        ("GET", "/c/abc/", "FallbackFunction", {}),
        ("GET", "/x/c/abc", "FallbackFunction", {}),
    ],
)
def test_templated_routes_match_one_whole_segment(
    functions_dir: Path, method: str, path: str, function: str, parameters: dict[str, str]
) -> None:
    found = RouteTable(_table_routes(functions_dir)).resolve(method, path)
    assert found is not None
    assert (found.route.function_logical_id, found.path_parameters) == (function, parameters)


def test_without_a_default_route_nothing_else_matches(functions_dir: Path) -> None:
    table = RouteTable(_table_routes(functions_dir)[:-1])
    assert table.resolve("GET", "/nope") is None
    assert table.resolve("GET", "/c/a/b") is None


def test_greedy_parameters_are_refused(functions_dir: Path) -> None:
    with pytest.raises(ValueError, match="greedy"):
        RouteTable([Route("ANY", "/{proxy+}", "F", functions_dir / "echo", "app.handler")])


def test_the_templates_page_routes_resolve_with_their_token() -> None:
    table = RouteTable(routes())
    page = table.resolve("GET", "/c/dG9rZW4")
    use = table.resolve("POST", "/c/dG9rZW4/use")
    assert page is not None and use is not None
    assert (page.route.route_key, page.path_parameters) == ("GET /c/{token}", {"token": "dG9rZW4"})
    assert (use.route.function_logical_id, use.path_parameters["token"]) == (
        "PageUseFunction",
        "dG9rZW4",
    )


def test_a_templated_route_becomes_an_event_with_path_parameters(
    functions_dir: Path,
) -> None:
    gateway = Gateway(_table_routes(functions_dir), quiet=True)
    base_url = gateway.start_in_thread()[1]
    try:
        answer = echo(base_url, "POST", "/c/a%2Db/use?lang=ko", body=b"onsitePwd=1234")
        plain = echo(base_url, "GET", "/c/about")["event"]
    finally:
        gateway.shutdown()
    event = answer["event"]
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /c/{token}/use"
    assert event["rawPath"] == "/c/a%2Db/use"
    assert event["pathParameters"] == {"token": "a-b"}  # decoded, as API Gateway passes it
    assert event["queryStringParameters"] == {"lang": "ko"}
    assert "pathParameters" not in plain  # API Gateway leaves it out when there are none
