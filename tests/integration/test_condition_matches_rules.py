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
