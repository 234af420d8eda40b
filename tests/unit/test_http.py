"""The envelope for malformed requests, unknown routes, languages and internal errors."""

import base64
import json
from typing import Any

import pytest

from coupons.store import client as store_client
from coupons.store import coupons as coupon_items
from devstack.samples import coupon_fields
from tests.conftest import Api
from tests.unit.conftest import ThrottledClient


@pytest.mark.parametrize(
    "raw_body",
    [
        b"",
        b"not json",
        b'{"webhookEnableYn": N"}',  # the seed page's own broken example line
        b"[1, 2]",
        b'"a string"',
        b"null",
        b'{"disc": NaN}',
        b'{"disc": Infinity}',
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_bodies_are_4000(api: Api, raw_body: bytes) -> None:
    for method, path in [("POST", "/create"), ("PUT", "/update"), ("POST", "/redeem")]:
        answer = api.call(method, path, raw_body=raw_body)
        assert (answer.status, answer.code, answer.result) == (400, 4000, None)


def test_bodies_over_16_kb_are_refused_before_parsing(api: Api) -> None:
    body = coupon_fields(cpnNo="BIGBODY12", memo="x" * 100)
    padded = json.dumps({**body, "padding": "x" * (16 * 1024)}).encode()
    assert api.call("POST", "/create", raw_body=padded).code == 4000
    assert api.validate("BIGBODY12").code == 4040
    fits = json.dumps({**body, "padding": "x" * (15 * 1024)}).encode()
    assert api.call("POST", "/create", raw_body=fits).code == 0


def test_unknown_routes_answer_4041_in_the_envelope() -> None:
    for method, path in [("GET", "/nope"), ("GET", "/create"), ("PATCH", "/redeem")]:
        answer = Api(api_key=None).call(method, path)
        assert (answer.status, answer.body) == (
            404,
            {"code": 4041, "message": "No such route.", "result": None},
        )


def test_messages_follow_accept_language(api: Api) -> None:
    korean = Api(api.api_key, language="ko-KR,ko;q=0.9")
    answer = korean.validate("NOSUCHCODE")
    assert answer.body["message"] == "쿠폰을 찾을 수 없습니다."
    invalid = korean.create(disc="five")
    assert invalid.body["message"] == "잘못된 필드: disc."
    assert (
        Api(None, language="ko").call("GET", "/nope").body["message"] == "존재하지 않는 경로입니다."
    )


def test_korean_amounts_are_formatted_for_korean(api: Api) -> None:
    code = api.create(disc=5000, discCurrency="KRW").result
    assert Api(api.api_key, language="ko").validate(code).result["formatDiscCurrency"] == "₩5,000"


def test_base64_bodies_are_decoded(api: Api) -> None:
    from devstack.gateway import LambdaContext, build_event
    from tests.conftest import ROUTES, load_handler

    route = ROUTES["POST /api/coupon/v1/create"]
    event = build_event(
        method="POST",
        target="/api/coupon/v1/create",
        headers=[("authorization", f"APIKey {api.api_key}")],
        body=json.dumps(coupon_fields(cpnNo="BASE64CODE")).encode(),
        route_key=route.route_key,
    )
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    answer: dict[str, Any] = load_handler(route)(event, LambdaContext(route))
    assert json.loads(answer["body"])["result"] == "BASE64CODE"


def test_unexpected_errors_are_500_with_only_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(coupon_items, "get", broken)
    answer = api.validate("ABCDEFGH")
    assert (answer.status, answer.code, answer.result) == (500, 5000, None)
    assert "secret internals" not in json.dumps(answer.body)
    assert answer.body["message"].startswith("Internal error (request id ")
    assert "secret internals" in caplog.text  # logged for the operator, with the traceback


def test_throttling_is_503_with_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.validate("ABCDEFGH")  # authenticate while storage still answers
    monkeypatch.setattr(store_client, "client", ThrottledClient)
    answer = api.validate("ABCDEFGH")
    assert (answer.status, answer.code) == (503, 5030)
    assert answer.headers["Retry-After"] == "1"
