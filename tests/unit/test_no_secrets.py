"""No secret ever leaves a function except in the one answer meant for it: the API key, its
SHA-256 hash, on-site passwords (right or wrong) and Idempotency-Keys never appear in the logs
(the layer's JSON logger, the whole stdlib logging tree at DEBUG), in the EMF metric lines, or
in an error body; error messages never echo what was submitted.

The one exception is by contract: validate answers the coupon object, `onsitePwd` included, to
the merchant's own API key (seed page); that is a response, not a log."""

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from coupons import http
from coupons.observability import logger
from coupons.store import redemptions as redemption_items
from tests.conftest import Api, Response

PWD = "pin-SECRET-7731"
WRONG_PWD = "wrong-SECRET-4410"
IDEMPOTENCY_KEY = "order-SECRET-5521"
BAD_KEY = "bad-SECRET-KEY-9931"
ODD_CODE = "<script>X1Y2Z3</script>"
ODD_USER = "<img src=x onerror=Q7W8E9>"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Captured:
    """Everything the functions wrote while the test ran, and every answer they gave."""

    stream: io.StringIO
    capfd: pytest.CaptureFixture[str]
    caplog: pytest.LogCaptureFixture
    answers: list[Response] = field(default_factory=list)

    def text(self) -> str:
        output = self.capfd.readouterr()
        records = "\n".join(
            # The formatted message and anything attached to the record (extra=..., exc_info).
            f"{record.getMessage()} {record.__dict__!r} {record.exc_text or ''}"
            for record in self.caplog.records
        )
        return "\n".join(
            [self.stream.getvalue(), output.out, output.err, self.caplog.text, records]
        )

    def keep(self, answer: Response) -> Response:
        self.answers.append(answer)
        return answer


@pytest.fixture
def captured(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[Captured]:
    """The layer's logger at DEBUG writing to a buffer (its handler holds the stdout of import
    time), the stdlib logging tree at DEBUG, and the process's stdout/stderr (EMF lines)."""
    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_stream = handler.setStream(stream)
    previous_level = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    try:
        yield Captured(stream, capfd, caplog)
    finally:
        logger.setLevel(previous_level)
        handler.setStream(previous_stream)


def _assert_absent(text: str, secrets: dict[str, str]) -> None:
    for name, secret in secrets.items():
        assert secret not in text, f"{name} leaked"


def test_a_flow_over_every_route_leaks_no_secret(
    api: Api, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.api_key
    keep = captured.keep
    keyed = api.with_key(IDEMPOTENCY_KEY)

    code = keep(keyed.create(onsitePwd=PWD, useLimit=0, userId="alice")).result
    codes = keep(api.with_key(IDEMPOTENCY_KEY + "-bulk").create_bulk(2, onsitePwd=PWD)).result
    assert code and len(codes) == 2
    shown = keep(api.validate(code)).result
    assert (shown["onsitePwd"], shown["onsitePwdSet"]) == ("", True)  # never shown, not even here
    keep(api.update(code, memo="spring sale", onsitePwd=PWD))
    assert keep(keyed.redeem(code, userId="alice", onsitePwd=WRONG_PWD)).code == 4225
    redeemed = keep(keyed.redeem(code, userId="alice", onsitePwd=PWD))
    assert redeemed.code == 0
    assert keep(keyed.redeem(code, userId="alice", onsitePwd=PWD)).body == redeemed.body
    rdm_id = redeemed.result["rdmId"]
    assert keep(api.with_key(IDEMPOTENCY_KEY + "-cancel").cancel(code, rdm_id)).code == 0
    assert keep(api.redemptions(code)).code == 0
    assert keep(api.list()).code == 0
    assert keep(api.list(userId="alice")).code == 0
    assert keep(api.call("GET", "/no-such-route")).code == 4041
    assert keep(Api(BAD_KEY).validate(code)).code == 4010
    assert keep(Api(BAD_KEY).call("POST", "/redeem", body={"onsitePwd": PWD})).code == 4010
    # Refusals whose request holds odd values: the messages name fields, never echo values.
    assert keep(api.validate(ODD_CODE)).code == 4001
    assert keep(api.validate(code, userId=ODD_USER)).code == 4224
    assert keep(api.create(cpnNo=ODD_CODE)).code == 4001
    assert keep(keyed.redeem(ODD_CODE, onsitePwd=WRONG_PWD)).code == 4001
    assert keep(api.redeem(codes[0], onsitePwd=WRONG_PWD, userId=ODD_USER)).code == 4225
    assert keep(api.create(onsitePwd=PWD + "-but-longer-than-20")).code == 4001
    assert keep(api.call("POST", "/redeem", headers={"idempotency-key": "\n" + IDEMPOTENCY_KEY},
                         body={"cpnNo": code, "onsitePwd": PWD})).code == 4001  # fmt: skip

    # An internal error in the middle of a redemption with a password and a key.
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(redemption_items, "redeem", broken)
    failed = keep(api.with_key(IDEMPOTENCY_KEY + "-500").redeem(code, onsitePwd=PWD))
    assert (failed.status, failed.code) == (500, 5000)
    monkeypatch.undo()
    assert keep(api.delete(code)).code == 0

    everything = captured.text()
    assert "storage exploded" in everything  # the capture does see the logs
    assert "RedemptionsRejected" in everything  # ... and the EMF lines
    secrets = {
        "API key": api.api_key,
        "API key hash": _sha256(api.api_key),
        "bad API key": BAD_KEY,
        "bad API key hash": _sha256(BAD_KEY),
        "on-site password": PWD,
        "wrong on-site password": WRONG_PWD,
        "Idempotency-Key": IDEMPOTENCY_KEY,  # also covers the -bulk, -cancel and -500 keys
        "Idempotency-Key hash": _sha256(IDEMPOTENCY_KEY),
        "submitted code": "X1Y2Z3",
        "submitted userId": "Q7W8E9",
    }
    _assert_absent(everything, secrets)

    for answer in captured.answers:
        body = json.dumps(answer.body, ensure_ascii=False)
        if answer.code == 0:
            continue  # successes answer the caller's own data (validate shows onsitePwd)
        assert answer.result is None
        _assert_absent(body, secrets)
        _assert_absent(json.dumps(answer.headers), secrets)
        if answer.code == 5000:
            assert set(answer.body) == {"code", "message", "result"}
            assert "storage exploded" not in body and "Traceback" not in body


def test_the_event_is_never_logged_even_when_powertools_is_told_to(
    captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POWERTOOLS_LOGGER_LOG_EVENT=true (a common debugging switch) would log the whole event:
    the Authorization header, the Idempotency-Key and the body. The layer turns it off."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    handler = http.public_endpoint(lambda request: None)  # decorated now, with the switch on
    from devstack.gateway import LambdaContext, build_event
    from tests.conftest import ROUTES

    route = ROUTES["$default"]
    event = build_event(
        method="POST",
        target="/api/coupon/v1/redeem",
        headers=[
            ("authorization", "APIKey " + BAD_KEY),
            ("idempotency-key", IDEMPOTENCY_KEY),
            ("content-type", "application/json"),
        ],
        body=json.dumps({"cpnNo": "ABCDEFGH", "onsitePwd": PWD}).encode(),
        route_key=route.route_key,
    )
    assert handler(event, LambdaContext(route))["statusCode"] == 200
    everything = captured.text()
    _assert_absent(everything, {"API key": BAD_KEY, "password": PWD, "key": IDEMPOTENCY_KEY})


def test_create_and_bulk_with_idempotency_keys_log_no_body(api: Api, captured: Captured) -> None:
    """powertools' idempotency utility (create, bulk) logs at DEBUG; none of it may carry the
    key or the request body."""
    keyed = api.with_key(IDEMPOTENCY_KEY)
    first = keyed.create(onsitePwd=PWD)
    assert first.code == 0
    assert keyed.create(onsitePwd=PWD).result == first.result
    assert keyed.create(onsitePwd=PWD + "x").code == 4226
    bulk = api.with_key(IDEMPOTENCY_KEY + "-bulk")
    assert bulk.create_bulk(2, onsitePwd=PWD).code == 0
    assert bulk.create_bulk(2, onsitePwd=PWD).code == 0
    _assert_absent(
        captured.text(),
        {"password": PWD, "key": IDEMPOTENCY_KEY, "API key": str(api.api_key)},
    )
