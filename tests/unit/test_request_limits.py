"""Abuse limits: oversized headers and query strings are 400/4000 before anything is parsed or
stored (no DynamoDB request at all, not even the API-key lookup), and a throttled DynamoDB is
503/5030 with Retry-After on every route that touches it."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.endpoint import Endpoint
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from coupons import containers, request
from coupons.errors import ErrorCode
from coupons.messages import message
from coupons.store import client as store_client
from devstack.samples import coupon_fields
from tests.conftest import Api, Response

KB = 1024
LIMIT_CASES: dict[str, dict[str, Any]] = {
    "one header over 8 KB": {"headers": {"x-padding": "x" * (8 * KB + 1)}},
    "headers over 16 KB in all": {
        "headers": {f"x-padding-{i}": "x" * (6 * KB) for i in range(3)},
    },
    "cookies over 16 KB in all": {
        "headers": {"cookie": "; ".join(f"c{i}={'x' * (6 * KB)}" for i in range(3))},
    },
    "a query string over 4 KB": {"query": {"padding": "x" * (4 * KB)}},
    "21 query parameters": {"query": {f"p{i}": "1" for i in range(21)}},
}
# Every route, with a request that would otherwise succeed or at least read the store.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/create", {"body": coupon_fields(cpnNo="LIMITS0001")}),
    ("POST", "/create/bulk", {"body": {"count": 2, **coupon_fields()}}),
    ("PUT", "/update", {"body": {"cpnNo": "LIMITS0001", "memo": "changed"}}),
    ("GET", "/validate", {"query": {"cpnNo": "LIMITS0001"}}),
    ("POST", "/redeem", {"body": {"cpnNo": "LIMITS0001"}}),
    ("PUT", "/redeem", {"body": {"cpnNo": "LIMITS0001"}}),
    ("POST", "/redeem/cancel", {"body": {"cpnNo": "LIMITS0001", "rdmId": "0" * 24}}),
    ("GET", "/redemptions", {"query": {"cpnNo": "LIMITS0001"}}),
    ("GET", "/list", {"query": {}}),
    ("DELETE", "/delete", {"query": {"cpnNo": "LIMITS0001"}}),
    ("GET", "/no-such-route", {}),
]


def _ids(value: Any) -> str:
    if isinstance(value, dict):
        return "with-key" if "headers" in value else "-"
    return str(value)


def _send(api: Api, method: str, path: str, request: dict[str, Any], **extra: Any) -> Response:
    query = {**request.get("query", {}), **extra.get("query", {})}
    headers = {**request.get("headers", {}), **extra.get("headers", {})}
    return api.call(method, path, body=request.get("body"), query=query or None, headers=headers)


def _is_4000(answer: Response, part: str) -> None:
    assert (answer.status, answer.code, answer.result) == (400, 4000, None), answer.body
    assert [error["field"] for error in answer.body["errors"]] == [part]


@pytest.mark.parametrize("case", LIMIT_CASES)
@pytest.mark.parametrize(("method", "path", "request_"), ROUTES, ids=_ids)
def test_oversized_requests_are_4000_before_any_storage_access(
    api: Api,
    dynamodb_requests: list[str],
    case: str,
    method: str,
    path: str,
    request_: dict[str, Any],
) -> None:
    # The key cache is cold: a request that got as far as authentication would read the store.
    answer = _send(api, method, path, request_, **LIMIT_CASES[case])
    _is_4000(answer, "query" if "query" in LIMIT_CASES[case] else "headers")
    assert dynamodb_requests == []


def test_limits_come_before_authentication(dynamodb_requests: list[str]) -> None:
    oversized = LIMIT_CASES["one header over 8 KB"]["headers"]
    for key in (None, "not-a-real-key"):
        answer = Api(key).call("GET", "/validate", query={"cpnNo": "ABCDEFGH"}, headers=oversized)
        _is_4000(answer, "headers")
    assert dynamodb_requests == []


def test_refused_writes_leave_nothing_behind(api: Api) -> None:
    code = api.create(cpnNo="LIMITS0002", memo="before").result
    before = api.list().result
    oversized = {"x-padding": "x" * (8 * KB + 1)}
    keyed = {**oversized, "idempotency-key": "order-1"}
    for headers in (oversized, keyed):
        _is_4000(api.call("POST", "/create", body=coupon_fields(), headers=headers), "headers")
        bulk = {"count": 3, **coupon_fields()}
        _is_4000(api.call("POST", "/create/bulk", body=bulk, headers=headers), "headers")
        _is_4000(api.call("PUT", "/update", body={"cpnNo": code, "memo": "x"}, headers=headers),
                 "headers")  # fmt: skip
        _is_4000(api.call("POST", "/redeem", body={"cpnNo": code}, headers=headers), "headers")
    many = {f"p{i}": "1" for i in range(21)}
    _is_4000(api.call("DELETE", "/delete", query={"cpnNo": code, **many}), "query")
    assert api.list().result == before
    assert api.validate(code).result["useCnt"] == 0
    assert api.redemptions(code).result["items"] == []
    # The key of the refused requests was never claimed: it works for a real request.
    assert api.with_key("order-1").redeem(code).code == 0


def test_requests_at_the_limits_are_served(api: Api) -> None:
    at_header_limit = {"x-padding": "x" * (8 * KB - len("x-padding"))}
    near_total_limit = {f"x-padding-{i}": "x" * (5 * KB) for i in range(3)}
    for headers in (at_header_limit, near_total_limit):
        code = api.call("POST", "/create", body=coupon_fields(), headers=headers).result
        assert api.validate(code).code == 0
    code = api.create(cpnNo="LIMITS0003").result
    # 20 parameters, and 4 KB of query string in all.
    query = {"cpnNo": code, **{f"p{i}": "1" for i in range(18)}}
    filler = 4 * KB - len(f"{'&'.join(f'{k}={v}' for k, v in query.items())}&pad=")
    answer = api.call("GET", "/validate", query={**query, "pad": "x" * filler})
    assert answer.code == 0 and answer.result["cpnNo"] == code


def test_api_key_idempotency_key_and_language_headers_still_work(api: Api) -> None:
    keyed = api.with_key("k" * 255)  # the longest Idempotency-Key the API accepts
    first = keyed.create(cpnNo="LIMITS0004")
    again = keyed.create(cpnNo="LIMITS0004")
    assert first.code == again.code == 0
    assert again.headers.get("Idempotent-Replayed") == "true"
    redeemed = api.with_key("order-1001").redeem("LIMITS0004")
    replayed = api.with_key("order-1001").redeem("LIMITS0004")
    assert redeemed.body == replayed.body and redeemed.code == 0
    assert api.with_key("k" * 256).create().code == 4001
    korean = Api(api.api_key, language="ko").call(
        "GET", "/list", query={f"p{i}": "1" for i in range(21)}
    )
    _is_4000(korean, "query")
    assert korean.body["message"] == message(ErrorCode.MALFORMED_REQUEST, "ko")
    assert Api("x" * 300).call("GET", "/list").code == 4010  # over-long keys are just invalid


def test_the_limits_are_the_documented_figures() -> None:
    assert request.MAX_BODY_BYTES == 16 * KB
    assert request.MAX_HEADER_VALUE_BYTES == 8 * KB
    assert request.MAX_HEADERS_BYTES == 16 * KB
    assert request.MAX_QUERY_BYTES == 4 * KB
    assert request.MAX_QUERY_PARAMS == 20


def test_an_event_without_raw_query_string_is_measured_too(api: Api) -> None:
    from devstack.gateway import LambdaContext, build_event
    from tests.conftest import ROUTES as ALL_ROUTES
    from tests.conftest import load_handler

    route = ALL_ROUTES["GET /api/coupon/v1/list"]
    event = build_event(
        method="GET",
        target="/api/coupon/v1/list?" + "&".join(f"p{i}=1" for i in range(21)),
        headers=[("authorization", f"APIKey {api.api_key}")],
        body=b"",
        route_key=route.route_key,
    )
    del event["rawQueryString"]
    answer = load_handler(route)(event, LambdaContext(route))
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (400, 4000)


# --- DynamoDB throttling ------------------------------------------------------------------------


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
        operation,
    )


class _AllThrottled:
    """A client whose every request is refused as throttled (the SDK's retries exhausted)."""

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def throttled(**_: Any) -> Any:
            raise _throttled(operation)

        return throttled


class _TransactionsThrottled:
    """The real client, but a transaction is cancelled with a throttling reason, as DynamoDB
    does when a write in it is throttled (an on-demand table scaling up, a hot key)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, operation: str) -> Any:
        return getattr(self.real, operation)

    def transact_write_items(self, TransactItems: list[Any], **_: Any) -> Any:
        reasons: list[Any] = [{"Code": "None"} for _ in TransactItems]
        reasons[-1] = {"Code": "ThrottlingError", "Message": "Throughput exceeds the capacity"}
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": reasons,
            },
            "TransactWriteItems",
        )


class _Client:
    """Stands in for coupons.store.client.client (a functools.cache'd function) in a test."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, **_: Any) -> Any:  # client(resend=...): both are the stand-in
        return self.client

    def cache_clear(self) -> None:
        pass


KEY = {"headers": {"idempotency-key": "retry-me-1"}}
STORE_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/create", {"body": coupon_fields()}),
    ("POST", "/create", {"body": coupon_fields(), **KEY}),
    ("POST", "/create/bulk", {"body": {"count": 2, **coupon_fields()}}),
    ("POST", "/create/bulk", {"body": {"count": 2, **coupon_fields()}, **KEY}),
    ("PUT", "/update", {"body": {"cpnNo": "THROTTLED1", "memo": "changed"}}),
    ("GET", "/validate", {"query": {"cpnNo": "THROTTLED1"}}),
    ("POST", "/redeem", {"body": {"cpnNo": "THROTTLED1"}}),
    ("POST", "/redeem", {"body": {"cpnNo": "THROTTLED1"}, **KEY}),
    ("PUT", "/redeem", {"body": {"cpnNo": "THROTTLED1"}}),
    ("POST", "/redeem/cancel", {"body": {"cpnNo": "THROTTLED1", "rdmId": "RDM"}}),
    ("POST", "/redeem/cancel", {"body": {"cpnNo": "THROTTLED1", "rdmId": "RDM"}, **KEY}),
    ("GET", "/redemptions", {"query": {"cpnNo": "THROTTLED1"}}),
    ("GET", "/list", {}),
    ("DELETE", "/delete", {"query": {"cpnNo": "THROTTLED1"}}),
]


def _prepare(api: Api, request: dict[str, Any]) -> dict[str, Any]:
    """A real coupon with one redemption, so every request would get to its write."""
    api.create(cpnNo="THROTTLED1", useLimit=0)
    rdm_id = api.redeem("THROTTLED1").result["rdmId"]
    body = request.get("body")
    if isinstance(body, dict) and body.get("rdmId") == "RDM":
        request = {**request, "body": {**body, "rdmId": rdm_id}}
    return request


def _throttled_changes_nothing(
    api: Api,
    method: str,
    path: str,
    request_: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    throttled: Callable[[], Any],
) -> None:
    """The request, sent while the store throttles, is 503 and changes nothing; with an
    Idempotency-Key, its retry then runs for real."""
    request_ = _prepare(api, request_)
    before = api.validate("THROTTLED1").result
    monkeypatch.setattr(store_client, "client", _Client(throttled()))
    _is_503(_send(api, method, path, request_))
    monkeypatch.undo()
    assert api.validate("THROTTLED1").result == before
    if "headers" in request_:  # the failed attempt left its key free: the retry runs for real
        assert _send(api, method, path, request_).code == 0


def _is_503(answer: Response) -> None:
    assert (answer.status, answer.code, answer.result) == (503, 5030, None), answer.body
    assert answer.headers["Retry-After"] == "1"


@pytest.mark.parametrize(("method", "path", "request_"), STORE_ROUTES, ids=_ids)
def test_throttled_storage_is_503_with_retry_after_on_every_route(
    api: Api, method: str, path: str, request_: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _throttled_changes_nothing(api, method, path, request_, monkeypatch, _AllThrottled)


def test_a_throttled_api_key_lookup_is_503_not_401(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    containers.reset()  # a fresh container: the key is looked up
    monkeypatch.setattr(store_client, "client", _Client(_AllThrottled()))
    _is_503(api.list())


# A redemption or cancellation is a transaction only with an Idempotency-Key (alone, it is one
# UpdateItem).
TRANSACTION_ROUTES = [
    (method, path, request)
    for method, path, request in STORE_ROUTES
    if path == "/create/bulk" or (path in ("/redeem", "/redeem/cancel") and "headers" in request)
]


@pytest.mark.parametrize(("method", "path", "request_"), TRANSACTION_ROUTES, ids=_ids)
def test_a_transaction_cancelled_by_throttling_is_503(
    api: Api, method: str, path: str, request_: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _throttled_changes_nothing(
        api,
        method,
        path,
        request_,
        monkeypatch,
        lambda: _TransactionsThrottled(store_client.client()),
    )


class _Unreachable:
    """A client whose every request fails with `error` once the SDK's own retries are spent:
    DynamoDB refusing the connection, not answering in time, or answering 5xx."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def fail(**_: Any) -> Any:
            raise self.error

        return fail


def _server_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetItem")


STORAGE_FAULTS: dict[str, Exception] = {
    "connection refused": EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    "connect timeout": ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
    "read timeout": ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    "connection cut": ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
    "DynamoDB 500": _server_error("InternalServerError", 500),
    "DynamoDB 503": _server_error("ServiceUnavailable", 503),
}


@pytest.mark.parametrize("fault", STORAGE_FAULTS)
@pytest.mark.parametrize(("method", "path", "request_"), STORE_ROUTES, ids=_ids)
def test_storage_that_fails_or_hangs_is_503_on_every_route(
    api: Api,
    method: str,
    path: str,
    request_: dict[str, Any],
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _throttled_changes_nothing(
        api, method, path, request_, monkeypatch, lambda: _Unreachable(STORAGE_FAULTS[fault])
    )


class _AnswersLost:
    """The first `operation` DynamoDB applies, but its answer never comes (read timeout)."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.sent = 0
        self.real = getattr(Endpoint, "_do_get_response")  # noqa: B009 - botocore's private

    def send(self, endpoint: Any, request: Any, model: Any, context: Any) -> Any:
        answer = self.real(endpoint, request, model, context)
        if model.name != self.operation:
            return answer
        self.sent += 1
        if self.sent > 1:
            return answer
        return None, ReadTimeoutError(endpoint_url=request.url)


@pytest.mark.parametrize(
    ("keyed", "operation"),
    [(False, "UpdateItem"), (True, "TransactWriteItems")],
    ids=["UpdateItem", "transaction"],
)
def test_a_redemption_whose_answer_was_lost_is_never_counted_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch, keyed: bool, operation: str
) -> None:
    """The SDK sends a request again when its answer does not come. A lone UpdateItem has no
    idempotency token, so a redemption's is not sent again (503, the use counted once; the
    client's retry with an Idempotency-Key is the safe one); a transaction has one (and the
    key's record), so it is sent again and answers for the first."""
    code = api.create(useLimit=3, userId="u1").result
    lost = _AnswersLost(operation)

    def send(endpoint: Any, request: Any, model: Any, context: Any) -> Any:  # bound per endpoint
        return lost.send(endpoint, request, model, context)

    monkeypatch.setattr(Endpoint, "_do_get_response", send)
    caller = api.with_key("lost-answer") if keyed else api
    answer = caller.redeem(code, userId="u1")
    monkeypatch.undo()
    if keyed:
        assert (answer.code, answer.result["useCnt"]) == (0, 1)
        assert lost.sent >= 2  # sent again, and answered for the first
    else:
        _is_503(answer)
        assert lost.sent == 1
    assert api.validate(code).result["useCnt"] == 1
