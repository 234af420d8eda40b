"""The redeem condition expression, evaluated by the real engine, refuses exactly what
rules.refusal refuses, and with the same code, for every combination of coupon and request."""

import itertools

import pytest

from coupons import rules
from tests.conftest import NEXT_YEAR_END, TODAY, TOMORROW, Api, Dates

pytestmark = pytest.mark.integration

# The start days are Day values, dated by Dates.fill when the test runs. `disabled`: the
# coupon is disabled (POST /disable) before the request; it is not a create field.
COUPONS = [
    {"useLimit": limit, "userId": user, "onsitePwd": pwd, "strtYmd": start, "disabled": disabled}
    for (limit, user), pwd, start, disabled in itertools.product(
        [(0, ""), (0, "u"), (1, ""), (1, "u"), (3, "u")],
        ["", "pw"],
        [TODAY, TOMORROW],
        [False, True],
    )
]
REQUESTS = [
    {"userId": user, "onsitePwd": pwd}
    for user, pwd in itertools.product(["", "u", "v"], ["", "pw", "bad"])
]


@pytest.mark.parametrize("used", [False, True])
def test_engine_and_rules_agree(coupon_table: str, dates: Dates, used: bool) -> None:
    from coupons import accounts

    disagreements: list[tuple[object, ...]] = []
    for coupon_fields, request in itertools.product(COUPONS, REQUESTS):
        # An account per case: the matrix's wrong passwords would lock the account's shared
        # counters, which rules.refusal (one coupon's rules) does not know about.
        api = Api(accounts.create_account("matrix")[1])  # in-process, on DynamoDB Local
        fields = dates.fill({k: v for k, v in coupon_fields.items() if k != "disabled"})
        code = api.create(**fields).result
        use_count = 0
        if used and coupon_fields["strtYmd"] == TODAY:  # a started coupon, used once
            owner = {"userId": fields["userId"], "onsitePwd": fields["onsitePwd"]}
            assert api.redeem(code, **owner).code == 0
            use_count = 1
        status = rules.DISABLED if coupon_fields["disabled"] else rules.ACTIVE
        if coupon_fields["disabled"]:
            assert api.disable(code).code == 0
        stored = {
            **fields,
            "endYmd": dates.ymd(NEXT_YEAR_END),
            "useCnt": use_count,
            "status": status,
        }
        expected = rules.refusal(
            stored,
            dates.today(),
            user_id=request["userId"],
            onsite_pwd=request["onsitePwd"],
            redeeming=True,
        )
        got = api.redeem(code, **request).code
        if got != (expected or 0):
            disagreements.append((fields, request, got, expected))
        if coupon_fields["disabled"]:  # the transaction's condition (Idempotency-Key) too
            keyed = api.with_key(f"matrix-{code}").redeem(code, **request).code
            if keyed != (expected or 0):
                disagreements.append((fields, request, ("keyed", keyed), expected))
    assert disagreements == []


# Checkout rules (DESIGN 2.6): the order's amount and currency, the minimum, and shared codes
# counted per user and in total. Every coupon is unlimited (totalLimit needs useLimit 0); a
# used one was redeemed once, by "ann".
PRICING = [
    {"discTypeIdx": 458, "disc": 10, "discCurrency": "USD"},
    {"discTypeIdx": 457, "disc": 10, "discCurrency": ""},
    {"discTypeIdx": 457, "disc": 10, "discCurrency": "KRW", "minOrderAmt": 1000},
    {"discTypeIdx": 457, "disc": 10, "discCurrency": "USD", "maxDiscAmt": 5},
]
CHECKOUT_COUPONS = [
    {**pricing, "useLimit": 0, "perUserLimit": per_user, "totalLimit": total, "used": used}
    for pricing, per_user, total, used in itertools.product(PRICING, [0, 1], [0, 1], [False, True])
]
CHECKOUT_REQUESTS = [
    {"userId": user, **({"amount": amount} if amount else {}), **({"currency": cur} if cur else {})}
    for user, amount, cur in itertools.product(
        ["", "ann", "bob"], ["", "5", "20.5", "5000"], ["", "USD", "KRW"]
    )
]


def _expected_code(stored: dict[str, object], request: dict[str, str], today: object) -> int:
    """What rules.refusal (and the request's own parsing) answer: 0 when nothing refuses."""
    from coupons import pricing
    from coupons.errors import CouponError

    try:
        order = pricing.order_of(request.get("amount"), request.get("currency", ""))
        refused = rules.refusal(
            stored,
            today,  # type: ignore[arg-type]
            user_id=request["userId"],
            redeeming=True,
            order=order,
            user_uses=int(bool(stored["useCnt"]) and request["userId"] == "ann"),
        )
    except CouponError as error:
        return int(error.code)
    return int(refused or 0)


def test_engine_and_rules_agree_on_checkout_rules(coupon_table: str, dates: Dates) -> None:
    from coupons import accounts

    api = Api(accounts.create_account("checkout matrix")[1])  # in-process, on DynamoDB Local
    disagreements: list[tuple[object, ...]] = []
    for case, (coupon_fields, request) in enumerate(
        itertools.product(CHECKOUT_COUPONS, CHECKOUT_REQUESTS)
    ):
        fields = {k: v for k, v in coupon_fields.items() if k != "used"}
        code = api.create(**fields).result
        use_count = 0
        if coupon_fields["used"]:
            setup = {"userId": "ann", "amount": 5000, "currency": fields["discCurrency"] or "USD"}
            assert api.redeem(code, **setup).code == 0, (fields, setup)
            use_count = 1
        stored = {
            **fields,
            "strtYmd": dates.ymd(),
            "endYmd": dates.ymd(NEXT_YEAR_END),
            "userId": "",
            "onsitePwd": "",
            "useCnt": use_count,
        }
        expected = _expected_code(stored, request, dates.today())
        body = {k: float(v) if k == "amount" else v for k, v in request.items()}
        caller = api.with_key(f"checkout-{case}") if case % 2 else api
        got = caller.redeem(code, **body).code
        if got != expected:
            disagreements.append((fields, coupon_fields["used"], request, got, expected))
    assert disagreements == []
