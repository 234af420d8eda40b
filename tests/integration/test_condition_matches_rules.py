"""The redeem condition expression, evaluated by the real engine, refuses exactly what
rules.refusal refuses, and with the same code, for every combination of coupon and request."""

import itertools
from datetime import date, timedelta

import pytest

from coupons import rules
from tests.conftest import Api

pytestmark = pytest.mark.integration

TODAY = date.today()
COUPONS = [
    {"useLimit": limit, "userId": user, "onsitePwd": pwd, "strtYmd": start}
    for (limit, user), pwd, start in itertools.product(
        [(0, ""), (0, "u"), (1, ""), (1, "u"), (3, "u")],
        ["", "pw"],
        [TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat()],
    )
]
REQUESTS = [
    {"userId": user, "onsitePwd": pwd}
    for user, pwd in itertools.product(["", "u", "v"], ["", "pw", "bad"])
]


@pytest.mark.parametrize("used", [False, True])
def test_engine_and_rules_agree(coupon_table: str, used: bool) -> None:
    from coupons import accounts

    disagreements = []
    for coupon_fields, request in itertools.product(COUPONS, REQUESTS):
        # An account per case: the matrix's wrong passwords would lock the account's shared
        # counters, which rules.refusal (one coupon's rules) does not know about.
        api = Api(accounts.create_account("matrix")[1])  # in-process, on DynamoDB Local
        code = api.create(**coupon_fields).result
        use_count = 0
        if used and coupon_fields["strtYmd"] == TODAY.isoformat():  # a started coupon, used once
            owner = {"userId": coupon_fields["userId"], "onsitePwd": coupon_fields["onsitePwd"]}
            assert api.redeem(code, **owner).code == 0
            use_count = 1
        stored = {**coupon_fields, "endYmd": f"{TODAY.year + 1}-12-31", "useCnt": use_count}
        expected = rules.refusal(
            stored,
            TODAY,
            user_id=request["userId"],
            onsite_pwd=request["onsitePwd"],
            redeeming=True,
        )
        got = api.redeem(code, **request).code
        if got != (expected or 0):
            disagreements.append((coupon_fields, request, got, expected))
    assert disagreements == []
