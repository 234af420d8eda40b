"""Checkout rules (DESIGN 2.6): the discount computed on the order, minimum and maximum, the
order's currency, and shared codes counted per user and in total."""

from typing import Any

import pytest

from coupons.store import keys
from coupons.store.client import get_many
from tests.conftest import Api, account_of

PERCENT = {"discTypeIdx": 457, "disc": 15, "discCurrency": "USD"}
TEN_OFF_USD = {"discTypeIdx": 458, "disc": 10, "discCurrency": "USD"}


def _priced(answer: Any) -> tuple[object, ...]:
    result = answer.result
    return (result["discAmt"], result["payAmt"], result["formatDiscAmt"], result["formatPayAmt"])


# --- order amounts -----------------------------------------------------------------------------


def test_validate_with_an_amount_prices_the_order(api: Api) -> None:
    code = api.create(**PERCENT, useLimit=0).result
    assert _priced(api.validate(code, amount="80.10")) == (12.02, 68.08, "$12.02", "$68.08")
    # Without an amount, the coupon object has no order fields.
    assert "discAmt" not in api.validate(code).result


def test_redeem_with_an_amount_prices_the_order_and_the_record_keeps_it(api: Api) -> None:
    code = api.create(**PERCENT, useLimit=0).result
    answer = api.redeem(code, amount=99.99, memo="order 1")
    assert answer.code == 0
    assert _priced(answer) == (15, 84.99, "$15.00", "$84.99")
    api.redeem(code)  # no amount
    items = api.redemptions(code).result["items"]
    assert [(i["amount"], i["currency"], i["discAmt"]) for i in items] == [
        (None, "", None),
        (99.99, "USD", 15),
    ]


def test_percent_rounds_half_up_to_the_minor_unit(api: Api) -> None:
    won = api.create(discTypeIdx=457, disc=15, discCurrency="KRW", useLimit=0).result
    # 15% of 1,003 = 150.45 -> 150; of 1,010 = 151.5 -> 152 (half-up, not half-even)
    assert api.validate(won, amount="1003").result["discAmt"] == 150
    assert api.validate(won, amount="1010").result["discAmt"] == 152
    assert api.validate(won, amount="1010").result["formatDiscAmt"] == "₩152"
    # 15% of 10.10 USD = 1.515 -> 1.52
    assert api.validate(won, amount="10.10", currency="USD").result["discAmt"] == 1.52


def test_the_discount_is_capped_by_the_maximum_and_by_the_amount(api: Api) -> None:
    capped = api.create(**PERCENT, maxDiscAmt=20, useLimit=0).result
    assert _priced(api.validate(capped, amount="1000")) == (20, 980, "$20.00", "$980.00")
    fixed = api.create(**TEN_OFF_USD, useLimit=0).result
    assert _priced(api.validate(fixed, amount="4.5")) == (4.5, 0, "$4.50", "$0.00")


def test_korean_formats_follow_accept_language(api: Api) -> None:
    code = api.create(discTypeIdx=458, disc=5000, discCurrency="KRW", useLimit=0).result
    api.language = "ko"
    assert _priced(api.validate(code, amount="30000")) == (5000, 25000, "₩5,000", "₩25,000")


def test_a_minimum_refuses_smaller_orders_and_needs_an_amount_to_redeem(api: Api) -> None:
    code = api.create(**TEN_OFF_USD, minOrderAmt=50, useLimit=0).result
    assert api.validate(code, amount="49.99").code == 4228
    assert api.validate(code).code == 0  # a pre-check without an amount
    assert api.redeem(code, amount=49.99).code == 4228
    missing = api.redeem(code)
    assert missing.code == 4001
    assert missing.body["errors"][0]["field"] == "amount"
    assert api.redeem(code, amount=50).result["useCnt"] == 1


def test_a_fixed_coupon_refuses_another_currency(api: Api) -> None:
    fixed = api.create(**TEN_OFF_USD, useLimit=0).result
    assert api.validate(fixed, amount="100", currency="EUR").code == 4229
    assert api.redeem(fixed, amount=100, currency="EUR").code == 4229
    assert api.redeem(fixed, amount=100, currency="usd").code == 0
    # A percent coupon without a minimum or maximum prices any currency...
    percent = api.create(discTypeIdx=457, disc=10, discCurrency="", useLimit=0).result
    assert api.validate(percent, amount="1000", currency="JPY").result["formatDiscAmt"] == "¥100"
    # ...but needs one to be named when it has none of its own.
    unnamed = api.validate(percent, amount="1000")
    assert (unnamed.code, unnamed.body["errors"][0]["field"]) == (4001, "currency")
    # With a minimum, its currency is the only one it can compare.
    minimum = api.create(**PERCENT, minOrderAmt=10, useLimit=0).result
    assert api.validate(minimum, amount="100", currency="EUR").code == 4229


def test_amount_decimals_follow_the_currency(api: Api) -> None:
    won = api.create(discTypeIdx=458, disc=1000, discCurrency="KRW", useLimit=0).result
    for answer in (api.validate(won, amount="10000.5"), api.redeem(won, amount=10000.5)):
        assert answer.code == 4001
        assert answer.body["errors"][0]["field"] == "amount"
    assert api.validate(won, amount="10000.00").code == 0  # trailing zeros are not decimals


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1e13", "NaN", "Infinity", ""])
def test_bad_amounts_are_field_errors(api: Api, amount: str) -> None:
    code = api.create(**TEN_OFF_USD).result
    answer = api.validate(code, amount=amount)
    assert (answer.status, answer.code) == (400, 4001)
    assert answer.body["errors"][0]["field"] == "amount"


@pytest.mark.parametrize("amount", [0, -5, "12", True, 1e13, 0.001, 5e-324, 1.0000000000000002])
def test_bad_amounts_in_redeem_change_nothing(api: Api, amount: object) -> None:
    code = api.create(**TEN_OFF_USD).result
    answer = api.redeem(code, amount=amount)
    assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "amount")
    assert api.validate(code).result["useCnt"] == 0


def test_an_unknown_currency_is_a_field_error(api: Api) -> None:
    code = api.create(**TEN_OFF_USD).result
    for answer in (
        api.validate(code, amount="10", currency="XYZ"),
        api.redeem(code, amount=10, currency="XYZ"),
    ):
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "currency")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({**TEN_OFF_USD, "maxDiscAmt": 5}, "maxDiscAmt"),  # percent coupons only
        ({"discTypeIdx": 457, "disc": 10, "discCurrency": "", "minOrderAmt": 5}, "discCurrency"),
        ({"discTypeIdx": 457, "disc": 10, "discCurrency": "", "maxDiscAmt": 5}, "discCurrency"),
        ({**PERCENT, "minOrderAmt": -1}, "minOrderAmt"),
        ({**PERCENT, "maxDiscAmt": 0.001}, "maxDiscAmt"),
        ({**PERCENT, "discCurrency": "JPY", "minOrderAmt": 0.5}, "minOrderAmt"),
        ({"useLimit": 1, "userId": "u1", "perUserLimit": 1}, "perUserLimit"),
        ({"useLimit": 0, "perUserLimit": 1001}, "perUserLimit"),
        ({"useLimit": 1, "totalLimit": 10}, "totalLimit"),
        ({"useLimit": 0, "totalLimit": 10**9 + 1}, "totalLimit"),
    ],
)
def test_create_refuses_inconsistent_checkout_fields(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    answer = api.create(**fields)
    assert (answer.code, answer.body["errors"][0]["field"]) == (4001, field)


def test_the_new_fields_are_locked_after_use_and_shown(api: Api) -> None:
    code = api.create(**PERCENT, useLimit=0, minOrderAmt=10, maxDiscAmt=30).result
    shown = api.validate(code).result
    assert (shown["minOrderAmt"], shown["maxDiscAmt"], shown["perUserLimit"]) == (10, 30, 0)
    assert api.update(code, minOrderAmt=20).code == 0  # unused: editable
    rdm_id = api.redeem(code, amount=100).result["rdmId"]
    assert api.update(code, maxDiscAmt=5).code == 4091
    # Every use cancelled: the terms open again, except how an order was priced (the
    # records' discount is derived from them).
    assert api.cancel(code, rdm_id).code == 0
    assert api.update(code, minOrderAmt=30).code == 0
    assert api.update(code, disc=20).code == 4091
    assert api.redemptions(code).result["items"][0]["discAmt"] == 15


# --- shared codes ------------------------------------------------------------------------------


def test_per_user_limit_counts_each_user(api: Api) -> None:
    code = api.create(useLimit=0, perUserLimit=2).result
    assert api.redeem(code).code == 4223  # the user must be named
    assert [api.redeem(code, userId="ann").code for _ in range(3)] == [0, 0, 4230]
    assert api.redeem(code, userId="bob").code == 0
    assert api.validate(code, userId="ann").code == 4230
    shown = api.validate(code, userId="bob").result
    assert (shown["userUseCnt"], shown["userRemaining"], shown["useCnt"]) == (1, 1, 3)
    assert api.validate(code, userId="cat").result["userUseCnt"] == 0
    assert "userUseCnt" not in api.validate(code).result


def test_cancel_gives_the_use_back_to_the_user_and_the_total(api: Api) -> None:
    code = api.create(useLimit=0, perUserLimit=1, totalLimit=2).result
    first = api.redeem(code, userId="ann").result
    assert first["remaining"] == 1
    assert api.redeem(code, userId="ann").code == 4230
    assert api.redeem(code, userId="bob").result["remaining"] == 0
    assert api.redeem(code, userId="cat").code == 4222
    assert api.cancel(code, first["rdmId"]).result["remaining"] == 1
    assert api.validate(code, userId="ann").result["userUseCnt"] == 0
    assert api.redeem(code, userId="ann").code == 0


def test_total_limit_caps_an_unlimited_coupon(api: Api) -> None:
    code = api.create(useLimit=0, totalLimit=3).result
    answers = [api.redeem(code, userId=f"u{i}") for i in range(4)]
    assert [a.code for a in answers] == [0, 0, 0, 4222]
    assert [a.result["remaining"] for a in answers[:3]] == [2, 1, 0]
    assert api.validate(code).code == 4222


def test_a_re_created_code_counts_users_from_zero(api: Api) -> None:
    code = api.create(cpnNo="SHARED0001", useLimit=0, perUserLimit=1).result
    assert api.redeem(code, userId="ann").code == 0
    api.delete(code)
    api.create(cpnNo=code, useLimit=0, perUserLimit=1)
    assert api.validate(code, userId="ann").result["userUseCnt"] == 0
    assert api.redeem(code, userId="ann").code == 0


def test_the_users_count_is_its_own_item_in_the_coupons_partition(api: Api) -> None:
    code = api.create(useLimit=0, perUserLimit=3).result
    api.redeem(code, userId="ann")
    api.redeem(code, userId="ann")
    account = account_of(api)
    coupon = get_many([keys.coupon_key(account, code)], consistent=True)[0]
    (count,) = get_many([keys.user_uses_key(account, code, coupon["cid"], "ann")], consistent=True)
    assert count["n"] == 2


# --- what a container believes about a coupon ------------------------------------------------


def test_a_re_created_code_is_priced_with_its_own_terms(api: Api) -> None:
    """A keyed redemption prices the order with the terms this container last saw; a code
    deleted and created again (its version starts at 0 again) must not be priced with its
    predecessor's."""
    first = api.create(cpnNo="STALE00001", discTypeIdx=457, disc=10, minOrderAmt=50).result
    assert api.with_key("stale-1").redeem(first, amount=10).code == 4228  # terms now known
    api.delete(first)
    api.create(cpnNo=first, discTypeIdx=457, disc=50)
    answer = api.with_key("stale-2").redeem(first, amount=100)
    assert (answer.result["discAmt"], answer.result["payAmt"]) == (50, 50)
    assert api.redemptions(first).result["items"][0]["discAmt"] == 50


def test_a_redemption_with_a_password_prices_the_order(api: Api, fresh_containers: None) -> None:
    """A password makes the redemption a transaction (its shared counters are checked), which
    answers nothing: the order is still priced."""
    code = api.create(discTypeIdx=457, disc=10, onsitePwd="1234").result
    answer = api.redeem(code, onsitePwd="1234", amount=100)
    assert (answer.result["discAmt"], answer.result["formatPayAmt"]) == (10, "$90.00")


def test_remaining_counts_down_from_the_total_in_a_fresh_container(api: Api) -> None:
    from tests.conftest import reset_containers

    code = api.create(useLimit=0, totalLimit=5).result
    first = api.redeem(code).result
    api.redeem(code)
    reset_containers()
    api.validate(code)  # the key looked up again: a container that has not seen the coupon
    assert api.with_key("total-cancel").cancel(code, first["rdmId"]).result["remaining"] == 4
    assert api.with_key("total-redeem").redeem(code).result["remaining"] == 3


@pytest.mark.parametrize("amount", ["1e-999999999", "١٢", "12.", "+"])
def test_amounts_written_oddly_are_refused_or_read_exactly(api: Api, amount: str) -> None:
    code = api.create(**TEN_OFF_USD, useLimit=0).result
    answer = api.validate(code, amount=amount)
    if amount == "12.":
        assert answer.result["payAmt"] == 2
    else:
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "amount")
