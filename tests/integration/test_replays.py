"""A replay tells the truth now, on the real engine: a retried redemption whose use was given
back, or whose coupon was deleted, is never answered as a standing success; and a known
Idempotency-Key is no oracle for the on-site password."""

from collections import Counter
from functools import partial

from tests.conftest import Api
from tests.integration.conftest import in_parallel, redemption_records


def test_a_cancelled_redemption_is_never_replayed_as_a_success(api: Api) -> None:
    code = api.create().result
    keyed = api.with_key("order-k1")
    first = keyed.redeem(code)
    assert api.cancel(code, first.result["rdmId"]).code == 0
    assert api.redeem(code).code == 0  # another order holds the only use now
    retries = in_parallel([partial(keyed.redeem, code)] * 8)
    assert Counter(r.code for r in retries) == {4227: 8}
    records = redemption_records(api, code)
    assert sorted(str(r["status"]) for r in records) == ["CANCELLED", "REDEEMED"]


def test_a_redemption_of_a_deleted_or_recreated_coupon_is_never_replayed(api: Api) -> None:
    api.create(cpnNo="REBORN2345", useLimit=0)
    keyed = api.with_key("order-k2")
    assert keyed.redeem("REBORN2345").code == 0
    api.delete("REBORN2345")
    assert keyed.redeem("REBORN2345").code == 4227
    api.create(cpnNo="REBORN2345", useLimit=0)
    assert keyed.redeem("REBORN2345").code == 4227
    assert api.validate("REBORN2345").result["useCnt"] == 0


def test_guessing_the_password_through_a_known_key_locks_like_redeeming(api: Api) -> None:
    code = api.create(useLimit=0, onsitePwd="8642").result
    keyed = api.with_key("order-k3")
    assert keyed.redeem(code, onsitePwd="8642").code == 0
    guesses = in_parallel([partial(keyed.redeem, code, onsitePwd=f"{n:04d}") for n in range(40)])
    codes = Counter(g.code for g in guesses)
    assert set(codes) <= {4225, 4290} and codes[4225] <= 5  # at most 5 counted before the lock
    assert codes[4290] >= 35
    right = keyed.redeem(code, onsitePwd="8642")
    assert (right.status, right.code) == (429, 4290)  # the right password reveals nothing
