"""Shared codes under races on the real engine, with real threads (DESIGN 2.6): perUserLimit
is counted on the user's own item in the same transaction as the coupon's count, totalLimit in
the coupon's condition, so no interleaving can exceed either; cancel gives both back."""

from collections import Counter
from functools import partial

import pytest

from tests.conftest import Api
from tests.integration.conftest import in_parallel, redemption_records

pytestmark = pytest.mark.integration


def test_one_customer_racing_themself_gets_exactly_the_per_user_limit(api: Api) -> None:
    code = api.create(useLimit=0, perUserLimit=3).result
    answers = in_parallel([partial(api.redeem, code, userId="ann")] * 30)
    assert Counter(a.code for a in answers) == {0: 3, 4230: 27}
    assert api.validate(code).result["useCnt"] == 3
    assert api.validate(code, userId="ann").code == 4230
    assert len(redemption_records(api, code)) == 3


def test_many_customers_at_once_each_get_their_limit(api: Api) -> None:
    code = api.create(useLimit=0, perUserLimit=2).result
    users = [f"customer-{i}" for i in range(8)]
    # Each customer tries 5 times, all interleaved; some with an Idempotency-Key.
    calls = [
        partial(
            (api.with_key(f"{user}-{attempt}") if attempt % 2 else api).redeem, code, userId=user
        )
        for attempt in range(5)
        for user in users
    ]
    answers = in_parallel(calls)
    assert Counter(a.code for a in answers) == {0: 16, 4230: 24}
    assert api.validate(code).result["useCnt"] == 16
    for user in users:
        assert api.validate(code, userId=user).code == 4230
    records = redemption_records(api, code)
    assert Counter(r["userId"] for r in records) == dict.fromkeys(users, 2)


def test_a_total_limit_stops_at_exactly_its_number(api: Api) -> None:
    code = api.create(useLimit=0, totalLimit=10, perUserLimit=1).result
    answers = in_parallel([partial(api.redeem, code, userId=f"u{i}") for i in range(40)])
    assert Counter(a.code for a in answers) == {0: 10, 4222: 30}
    # Under contention a transaction pins the count on its first attempt only (so that no
    # checkout starves): `remaining` is then approximate (never below the truth).
    remaining = sorted(a.result["remaining"] for a in answers if a.code == 0)
    assert all(0 <= left <= 9 for left in remaining)
    assert api.validate(code).code == 4222
    assert len(redemption_records(api, code)) == 10


def test_cancels_racing_redemptions_give_back_exactly_what_they_cancel(api: Api) -> None:
    """Half the customers' uses are cancelled while new customers redeem: every cancelled
    use returns to the total and to its customer, who can then use the code again."""
    code = api.create(useLimit=0, totalLimit=12, perUserLimit=1).result
    first = [api.redeem(code, userId=f"early-{i}").result for i in range(12)]
    assert api.redeem(code, userId="late-x").code == 4222
    cancels = [partial(api.cancel, code, use["rdmId"]) for use in first[:6]]
    late = [partial(api.redeem, code, userId=f"late-{i}") for i in range(12)]
    answers = in_parallel(cancels + late)
    assert [a.code for a in answers[:6]] == [0] * 6
    late_uses = sum(a.code == 0 for a in answers[6:])
    assert {a.code for a in answers[6:]} <= {0, 4222}
    assert late_uses <= 6  # a late redeemer may have come before the cancels
    standing = [r for r in redemption_records(api, code) if r["status"] == "REDEEMED"]
    assert len(standing) == 6 + late_uses
    # What is left is exactly what the cancels gave back, and the customers they gave it to
    # may use the code again.
    again = [api.redeem(code, userId=f"early-{i}").code for i in range(6)]
    assert again == [0] * (6 - late_uses) + [4222] * late_uses
    assert api.validate(code, userId="early-7").code == 4222  # used up before their 4230
