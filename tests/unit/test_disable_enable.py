"""POST /disable and POST /enable (DESIGN 2.6): a disabled coupon refuses validate and redeem
with 4231, first after 4040; cancel, update and history still work."""

from datetime import date
from typing import Any

import pytest

from coupons import rules
from coupons.errors import ErrorCode
from coupons.store import coupons as coupon_items
from tests.conftest import TOMORROW, Api, Dates, account_of


def _disabled(api: Api, **fields: Any) -> str:
    code = api.create(**fields).result
    answer = api.disable(code)
    assert (answer.status, answer.body) == (200, {"code": 0, "message": "", "result": code})
    return str(code)


def test_disable_and_enable_answer_the_normalized_code(api: Api) -> None:
    code = api.create(cpnNo="OFFANDON1").result
    assert api.disable("off-and-on-1").result == code
    assert api.validate(code).code == 4231
    assert api.enable("off and on 1").result == code
    assert api.validate(code).result["status"] == "ACTIVE"


def test_the_coupon_object_and_the_list_show_the_status(api: Api) -> None:
    active = api.create().result
    assert api.validate(active).result["status"] == "ACTIVE"
    disabled = _disabled(api)
    statuses = {item["cpnNo"]: item["status"] for item in api.list().result["items"]}
    assert statuses == {active: "ACTIVE", disabled: "DISABLED"}
    api.enable(disabled)
    assert {item["status"] for item in api.list().result["items"]} == {"ACTIVE"}


def test_a_coupon_stored_without_a_status_is_active(api: Api) -> None:
    code = api.create().result
    stored = coupon_items.get(account_of(api), code, consistent=True)
    assert stored is not None and "status" not in stored
    assert api.validate(code).result["status"] == "ACTIVE"


@pytest.mark.parametrize("route", ["/disable", "/enable"])
def test_a_missing_deleted_or_foreign_coupon_is_not_found(
    api: Api, other_api: Api, route: str
) -> None:
    assert api.call("POST", route, body={"cpnNo": "NOSUCHCODE1"}).code == 4040
    deleted = api.create().result
    api.delete(deleted)
    assert api.call("POST", route, body={"cpnNo": deleted}).code == 4040
    # Nothing is created by a refused disable or enable.
    assert coupon_items.get(account_of(api), deleted, consistent=True) is None
    theirs = other_api.create().result
    answer = api.call("POST", route, body={"cpnNo": theirs})
    assert (answer.status, answer.code) == (404, 4040)
    assert other_api.validate(theirs).result["status"] == "ACTIVE"  # untouched


@pytest.mark.parametrize("route", ["/disable", "/enable"])
@pytest.mark.parametrize("body", [{}, {"cpnNo": ""}, {"cpnNo": "bad"}, {"cpnNo": 123456789}])
def test_bad_requests(api: Api, route: str, body: dict[str, Any]) -> None:
    assert api.call("POST", route, body=body).code == 4001


def test_repeats_are_idempotent(api: Api) -> None:
    code = api.create().result
    assert api.enable(code).code == 0  # enabling an active coupon
    assert api.validate(code).result["status"] == "ACTIVE"
    assert [api.disable(code).code for _ in range(3)] == [0, 0, 0]
    assert api.validate(code).code == 4231
    assert [api.enable(code).code for _ in range(2)] == [0, 0]
    assert api.redeem(code).code == 0


def test_disabled_refuses_validate_and_redeem_with_4231(api: Api) -> None:
    code = _disabled(api, useLimit=0)
    validate = api.validate(code)
    assert (validate.status, validate.code, validate.body["result"]) == (422, 4231, None)
    assert validate.body["message"] == "The coupon is disabled."
    korean = Api(api.api_key, language="ko").redeem(code)
    assert (korean.status, korean.code) == (422, 4231)
    assert korean.body["message"] == "사용이 중지된 쿠폰입니다."
    assert api.with_key("order-1").redeem(code).code == 4231
    assert api.enable(code).code == 0
    assert api.redeem(code).code == 0
    assert api.with_key("order-1").redeem(code).code == 0  # a refusal is not remembered
    assert api.validate(code).result["useCnt"] == 2


def test_disabled_refuses_a_redemption_with_an_on_site_password(api: Api) -> None:
    """The password's transaction (shared wrong-password counters) carries the rule too, and
    a disabled coupon counts no wrong password: 4231 comes before 4225."""
    code = _disabled(api, useLimit=0, onsitePwd="1357")
    for password in ["1357", "0000", "0000", "0000", "0000", "0000", "0000"]:
        assert api.redeem(code, onsitePwd=password).code == 4231
    assert api.with_key("k-pwd").redeem(code, onsitePwd="1357").code == 4231
    stored = coupon_items.get(account_of(api), code, consistent=True)
    assert stored is not None and "pwdFailTs" not in stored and "pwdLockedUntil" not in stored
    api.enable(code)
    assert api.redeem(code, onsitePwd="1357").code == 0


@pytest.mark.parametrize(
    ("fields", "request_", "later"),
    [
        ({"strtYmd": TOMORROW}, {}, 4220),
        ({"useLimit": 3, "userId": "u1"}, {}, 4223),
        ({"useLimit": 3, "userId": "u1"}, {"userId": "u2"}, 4224),
        ({"onsitePwd": "1357"}, {"onsitePwd": "bad"}, 4225),
        ({"useLimit": 1}, {}, 4222),  # used up below
    ],
    ids=["not yet valid", "user required", "user mismatch", "password", "used up"],
)
def test_disabled_comes_before_every_other_refusal(
    api: Api, dates: Dates, fields: dict[str, Any], request_: dict[str, str], later: int
) -> None:
    code = api.create(**dates.fill(fields)).result
    if later == ErrorCode.USAGE_LIMIT_REACHED:
        assert api.redeem(code).code == 0
    assert api.redeem(code, **request_).code == later
    api.disable(code)
    assert api.redeem(code, **request_).code == 4231
    assert api.with_key(f"k-{later}").redeem(code, **request_).code == 4231
    assert (
        api.validate(code, **({"userId": request_["userId"]} if "userId" in request_ else {})).code
        == 4231
    )
    api.enable(code)
    assert api.redeem(code, **request_).code == later


def test_not_found_comes_before_disabled(api: Api) -> None:
    code = _disabled(api)
    api.delete(code)
    assert api.validate(code).code == 4040
    assert api.redeem(code).code == 4040


def test_disable_works_after_use_and_cancel_still_works(api: Api) -> None:
    code = api.create(useLimit=1).result
    rdm_id = api.redeem(code).result["rdmId"]
    assert api.disable(code).code == 0
    cancelled = api.cancel(code, rdm_id)
    assert (cancelled.code, cancelled.result["useCnt"], cancelled.result["remaining"]) == (0, 0, 1)
    assert api.redeem(code).code == 4231
    history = api.redemptions(code).result["items"]
    assert [item["status"] for item in history] == ["CANCELLED"]
    api.enable(code)
    assert api.redeem(code).result["useCnt"] == 1


def test_a_disabled_coupon_can_still_be_updated_and_status_is_not_an_update_field(
    api: Api,
) -> None:
    code = _disabled(api)
    assert api.update(code, nm="$6 off", disc=6, status="ACTIVE").code == 0
    assert api.validate(code).code == 4231  # status is not an update field: still disabled
    api.enable(code)
    coupon = api.validate(code).result
    assert (coupon["nm"], coupon["disc"], coupon["status"]) == ("$6 off", 6.0, "ACTIVE")
    used = api.create(useLimit=0).result
    api.redeem(used)
    api.disable(used)
    assert api.update(used, memo="leaked code").code == 0
    assert api.update(used, nm="other").code == 4091


def test_a_disabled_coupon_is_deleted_and_created_again_active(api: Api) -> None:
    code = _disabled(api, cpnNo="RECREATE01")
    assert api.delete(code).code == 0
    assert api.create(cpnNo=code).code == 0
    assert api.validate(code).result["status"] == "ACTIVE"


def test_the_rule_names_the_status_first() -> None:
    coupon = {
        "status": rules.DISABLED,
        "strtYmd": "2999-01-01",
        "endYmd": "2999-01-02",
        "useLimit": 1,
        "useCnt": 1,
        "userId": "",
        "onsitePwd": "",
    }
    today = date(2026, 6, 1)
    assert rules.refusal(coupon, today, user_id="", redeeming=True) == ErrorCode.COUPON_DISABLED
    assert rules.refusal(coupon, today, user_id="", redeeming=False) == ErrorCode.COUPON_DISABLED
    coupon["status"] = rules.ACTIVE
    assert rules.refusal(coupon, today, user_id="", redeeming=True) == ErrorCode.NOT_YET_VALID
