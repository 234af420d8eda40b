"""Whatever a client sends in any field, the answer is a 4xx in the envelope (never a 500) and
a refused create leaves nothing behind."""

import json
from typing import Any

import pytest

from devstack.samples import coupon_fields
from tests.conftest import Api

NASTY: list[Any] = [
    None,
    "",
    " ",
    "\u0000",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "ß" * 8,
    "💳" * 50,
    "x" * 5000,
    0,
    -1,
    2**31,
    2**64,
    10**400,
    1e308,
    -0.0,
    1e-300,
    True,
    [],
    [1, 2],
    {},
    {"nested": {"deep": [1]}},
]
FIELDS = [*coupon_fields(), "cpnNo", "cpnNoDigits", "onsiteYn", "onsitePwd", "webhookEnableYn",
          "grpIdx", "tmplIdx", "domain", "url", "color", "background", "memo", "userId",
          "userNm", "userPhnno", "userEml", "userEtc1", "userEtc2"]  # fmt: skip


def _no_server_error(answer: Any) -> None:
    assert answer.status < 500, answer.body
    assert set(answer.body) >= {"code", "message", "result"}


@pytest.mark.parametrize("field", FIELDS)
def test_create_survives_any_value_in_any_field(api: Api, field: str) -> None:
    for value in NASTY:
        body = {**coupon_fields(cpnNo="HOSTILE12"), field: value}
        answer = api.call("POST", "/create", raw_body=json.dumps(body).encode())
        _no_server_error(answer)
        if answer.code != 0:
            assert api.validate("HOSTILE12").code == 4040  # nothing half-written
        else:
            assert api.delete(answer.result).code == 0


@pytest.mark.parametrize("field", [*FIELDS, "cpnNo"])
def test_update_survives_any_value_in_any_field(api: Api, field: str) -> None:
    code = api.create(cpnNo="HOSTILE34").result
    before = api.validate(code).result
    for value in NASTY:
        answer = api.call(
            "PUT", "/update", raw_body=json.dumps({"cpnNo": code, field: value}).encode()
        )
        _no_server_error(answer)
        after = api.validate(code).result
        if answer.code != 0:
            assert after == before  # a refused edit changes nothing
        before = after


@pytest.mark.parametrize("field", ["cpnNo", "userId", "onsitePwd", "memo"])
def test_redeem_survives_any_value_in_any_field(api: Api, field: str) -> None:
    code = api.create(cpnNo="HOSTILE56", useLimit=0).result
    for value in NASTY:
        body = {"cpnNo": code, field: value}
        _no_server_error(api.call("POST", "/redeem", raw_body=json.dumps(body).encode()))


@pytest.mark.parametrize("value", ["", "\u0000", "💳" * 10, "x" * 5000, "A,B", "%00"])
def test_query_parameters_survive_anything(api: Api, value: str) -> None:
    for path in ("/validate", "/delete"):
        method = "GET" if path == "/validate" else "DELETE"
        _no_server_error(api.call(method, path, query={"cpnNo": value, "userId": value}))


@pytest.mark.parametrize("field", ["count", "cpnNoDigits", "cpnNo", "nm", "grpIdx", "userId"])
def test_bulk_create_survives_any_value_in_any_field(api: Api, field: str) -> None:
    for value in NASTY:
        body = {**coupon_fields(), "count": 3, field: value}
        answer = api.call("POST", "/create/bulk", raw_body=json.dumps(body).encode())
        _no_server_error(answer)
        created = answer.result if answer.code == 0 else []
        assert len(api.list(limit="100").result["items"]) == len(created)  # all or nothing
        for code in created:
            assert api.delete(code).code == 0


@pytest.mark.parametrize("field", ["cpnNo", "rdmId", "memo"])
def test_cancel_survives_any_value_in_any_field(api: Api, field: str) -> None:
    code = api.create(cpnNo="HOSTILE78", useLimit=0).result
    rdm_id = api.redeem(code).result["rdmId"]
    for value in NASTY:
        body = {"cpnNo": code, "rdmId": rdm_id, field: value}
        answer = api.call("POST", "/redeem/cancel", raw_body=json.dumps(body).encode())
        _no_server_error(answer)
        if answer.code == 0:  # only a valid memo can get through; put the use back
            rdm_id = api.redeem(code).result["rdmId"]
    assert api.validate(code).result["useCnt"] == 1


@pytest.mark.parametrize(
    "value", ["", "\u0000", "💳" * 10, "x" * 5000, "A,B", "%00", "-1", "1e3", "0x10", "٣"]
)
def test_list_and_history_parameters_survive_anything(api: Api, value: str) -> None:
    code = api.create(cpnNo="HOSTILE90").result
    for name in ("limit", "cursor", "grpIdx", "userId"):
        answer = api.list(**{name: value})
        _no_server_error(answer)
        # A value over the 4 KB query-string limit is refused whole (request.MAX_QUERY_BYTES).
        assert answer.code in ((0, 4001) if len(value.encode()) < 4 * 1024 else (4000,))
    for name in ("limit", "cursor"):
        _no_server_error(api.redemptions(code, **{name: value}))
    _no_server_error(api.redemptions(value))


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "a\tb", "\u0000"])
def test_malformed_idempotency_keys_are_refused_and_nothing_is_written(api: Api, key: str) -> None:
    answer = api.call("POST", "/create", body=coupon_fields(), headers={"idempotency-key": key})
    assert (answer.status, answer.code) == (400, 4001)
    assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    assert api.list().result["items"] == []
