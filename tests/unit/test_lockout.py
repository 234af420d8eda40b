"""On-site password lockout (DESIGN 2.5): the 5th wrong password within 15 minutes locks the
coupon's redemption (429/4290, Retry-After) for 15 minutes, even with the right password; the
right password resets the count."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from coupons import clock as layer_clock
from coupons import rules
from coupons.records import StoredCoupon
from coupons.store import accounts as account_items
from coupons.store import coupons as coupon_items
from coupons.store.client import client
from coupons.store.keys import coupon_key
from tests.conftest import TABLE_NAME, Api, Response, account_of

PIN = "1234"
MINUTE_MS = 60_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Move the functions' clock (coupons.clock.now_ms) forward by some milliseconds."""
    real = layer_clock.now_ms
    offset = [0]
    monkeypatch.setattr(layer_clock, "now_ms", lambda: real() + offset[0])

    def advance(ms: int) -> None:
        offset[0] += ms

    yield advance


def _pin_coupon(api: Api, **fields: Any) -> str:
    code = api.create(**{"useLimit": 0, "onsitePwd": PIN, **fields}).result
    assert isinstance(code, str)
    return code


def _wrong(api: Api, code: str, times: int) -> list[int]:
    return [api.redeem(code, onsitePwd="0000").code for _ in range(times)]


def _stored(api: Api, code: str) -> StoredCoupon:
    """The coupon item as stored (the lockout attributes are never shown by the API)."""
    from coupons import auth

    assert api.api_key
    key = account_items.get_api_key(auth.key_hash(api.api_key))
    assert key is not None
    coupon = coupon_items.get(key["account"], code, consistent=True)
    assert coupon is not None
    return coupon


def _assert_locked(answer: Response, at_most_seconds: int = 15 * 60) -> None:
    assert (answer.status, answer.code, answer.result) == (429, 4290, None)
    retry_after = int({k.lower(): v for k, v in answer.headers.items()}["retry-after"])
    assert 0 < retry_after <= at_most_seconds


def test_the_constants_are_the_contracts() -> None:
    assert rules.PASSWORD_FAILURES == 5
    assert rules.PASSWORD_WINDOW_MS == rules.PASSWORD_LOCK_MS == 15 * MINUTE_MS


def test_four_wrong_then_right_succeeds_and_resets_the_count(api: Api) -> None:
    code = _pin_coupon(api)
    assert _wrong(api, code, 4) == [4225] * 4
    assert len(_stored(api, code)["pwdFailTs"]) == 4
    assert api.redeem(code, onsitePwd=PIN).code == 0
    assert "pwdFailTs" not in _stored(api, code)
    assert _wrong(api, code, 4) == [4225] * 4  # counting starts over: still not locked
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_five_wrong_lock_even_the_right_password(api: Api) -> None:
    code = _pin_coupon(api)
    assert _wrong(api, code, 5) == [4225] * 5  # the 5th is answered as wrong, and locks
    _assert_locked(api.redeem(code, onsitePwd=PIN))
    _assert_locked(api.redeem(code, onsitePwd="0000"))  # refused before the password is read
    _assert_locked(api.redeem(code))
    assert api.validate(code).code == 0  # validate takes no password: the lock is redeem's
    assert api.validate(code).result["useCnt"] == 0


def test_the_lock_ends_after_15_minutes(api: Api, clock: Callable[[int], None]) -> None:
    code = _pin_coupon(api)
    _wrong(api, code, 5)
    clock(14 * MINUTE_MS)
    _assert_locked(api.redeem(code, onsitePwd=PIN), at_most_seconds=60)
    clock(MINUTE_MS + 1)
    assert api.redeem(code, onsitePwd=PIN).code == 0
    assert {"pwdFailTs", "pwdLockedUntil"}.isdisjoint(_stored(api, code))


def test_failures_count_afresh_after_a_lock_ends(api: Api, clock: Callable[[int], None]) -> None:
    code = _pin_coupon(api)
    _wrong(api, code, 5)
    clock(15 * MINUTE_MS)
    assert _wrong(api, code, 4) == [4225] * 4  # the 5 that locked it count no more
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_wrong_passwords_older_than_15_minutes_do_not_count(
    api: Api, clock: Callable[[int], None]
) -> None:
    code = _pin_coupon(api)
    assert _wrong(api, code, 4) == [4225] * 4
    clock(15 * MINUTE_MS + 1)
    assert _wrong(api, code, 4) == [4225] * 4
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_the_window_slides(api: Api, clock: Callable[[int], None]) -> None:
    """Any 5 wrong passwords within 15 minutes lock, not only 5 since the first failure."""
    code = _pin_coupon(api)
    assert _wrong(api, code, 1) == [4225]
    clock(10 * MINUTE_MS)
    assert _wrong(api, code, 3) == [4225] * 3
    clock(6 * MINUTE_MS)  # the first failure has expired, the three others have not
    assert _wrong(api, code, 1) == [4225]
    assert len(_stored(api, code)["pwdFailTs"]) == 4
    assert _wrong(api, code, 1) == [4225]  # the 5th within 15 minutes (the last 6 minutes)
    _assert_locked(api.redeem(code, onsitePwd=PIN))


def test_a_coupon_without_a_password_never_locks(api: Api) -> None:
    code = api.create(useLimit=0).result
    for _ in range(8):
        assert api.redeem(code, onsitePwd="anything").code == 0
    assert {"pwdFailTs", "pwdLockedUntil"}.isdisjoint(_stored(api, code))


def test_other_refusals_are_not_counted(api: Api) -> None:
    code = _pin_coupon(api, useLimit=2, userId="u")
    for _ in range(6):
        assert api.redeem(code, userId="v", onsitePwd="0000").code == 4224
        assert api.redeem(code, onsitePwd="0000").code == 4223
    assert api.redeem(code, userId="u", onsitePwd=PIN).code == 0


def test_the_lock_is_per_coupon(api: Api, other_api: Api) -> None:
    locked = _pin_coupon(api)
    same_pin = _pin_coupon(api)
    elsewhere = _pin_coupon(other_api, cpnNo=locked)  # the same code in another account
    _wrong(api, locked, 5)
    _assert_locked(api.redeem(locked, onsitePwd=PIN))
    assert api.redeem(same_pin, onsitePwd=PIN).code == 0
    assert other_api.redeem(elsewhere, onsitePwd=PIN).code == 0


def test_refusal_order_places_the_lock_right_before_the_password(
    api: Api, clock: Callable[[int], None]
) -> None:
    code = _pin_coupon(api, useLimit=1, userId="u")
    _wrong(api, code, 5)
    assert api.redeem(code, userId="v", onsitePwd=PIN).code == 4224  # the user comes first
    _assert_locked(api.redeem(code, userId="u", onsitePwd=PIN))
    clock(15 * MINUTE_MS)
    assert api.redeem(code, userId="u", onsitePwd=PIN).code == 0
    _wrong(api, code, 5)  # wrong passwords on a used-up coupon are still counted (4225 first)
    _assert_locked(api.redeem(code, userId="u", onsitePwd=PIN))  # the lock hides 4222 too
    clock(15 * MINUTE_MS)
    assert api.redeem(code, userId="u", onsitePwd=PIN).code == 4222


def test_a_deleted_and_recreated_coupon_starts_unlocked(api: Api) -> None:
    code = _pin_coupon(api)
    _wrong(api, code, 5)
    assert api.delete(code).code == 0
    assert api.redeem(code, onsitePwd="0000").code == 4040
    assert api.create(cpnNo=code, useLimit=0, onsitePwd=PIN).code == 0
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_dynamodb_requests_per_outcome(api: Api, dynamodb_requests: list[str]) -> None:
    code = _pin_coupon(api)
    assert api.redeem(code, onsitePwd=PIN).code == 0  # this container now knows the coupon
    _wrong(api, code, 1)
    dynamodb_requests.clear()
    assert api.redeem(code, onsitePwd=PIN).code == 0
    assert dynamodb_requests == ["TransactWriteItems"]  # success, resetting the count: one
    dynamodb_requests.clear()
    assert _wrong(api, code, 1) == [4225]
    # Refused, then counted on the coupon, the account and the coupons sharing its password.
    assert dynamodb_requests == ["TransactWriteItems", "UpdateItem", "UpdateItem", "UpdateItem"]
    _wrong(api, code, 4)
    dynamodb_requests.clear()
    _assert_locked(api.redeem(code, onsitePwd=PIN))
    assert dynamodb_requests == ["TransactWriteItems"]  # locked: named from the refusal


def test_messages_in_korean(api: Api) -> None:
    code = _pin_coupon(api)
    korean = Api(api.api_key, language="ko")
    answer = korean.redeem(code, onsitePwd="0000")
    assert answer.code == 4225
    assert answer.body["message"] == "현장쿠폰 비밀번호가 없거나 올바르지 않습니다."
    _wrong(api, code, 4)
    locked = korean.redeem(code, onsitePwd=PIN)
    _assert_locked(locked)
    assert locked.body["message"] == (
        "요청이 너무 많거나 비밀번호가 여러 번 틀렸습니다. 잠시 후 다시 시도하세요."
    )
    english = api.redeem(code, onsitePwd=PIN)
    assert english.body["message"] == "Too many requests or wrong passwords; try again later."


def test_an_idempotency_keyed_redeem_refused_by_the_lock_is_not_remembered(
    api: Api, clock: Callable[[int], None]
) -> None:
    code = _pin_coupon(api)
    _wrong(api, code, 5)
    keyed = api.with_key("lock-then-pay")
    _assert_locked(keyed.redeem(code, onsitePwd=PIN))
    clock(15 * MINUTE_MS)
    answer = keyed.redeem(code, onsitePwd=PIN)
    assert answer.code == 0
    assert "Idempotent-Replayed" not in answer.headers


# --- the rules on their own --------------------------------------------------------------------


def test_after_wrong_password_keeps_only_the_window() -> None:
    now = 100 * MINUTE_MS
    coupon = {"pwdFailTs": [now - 15 * MINUTE_MS, now - 15 * MINUTE_MS + 1, now - 1]}
    assert rules.after_wrong_password(coupon, now) == (
        [now - 15 * MINUTE_MS + 1, now - 1, now],
        None,
    )
    assert rules.after_wrong_password({}, now) == ([now], None)
    four = {"pwdFailTs": [now - 4, now - 3, now - 2, now - 1]}
    assert rules.after_wrong_password(four, now) == ([], now + 15 * MINUTE_MS)


def test_password_lock_seconds_rounds_up_and_needs_a_password() -> None:
    coupon = {"onsitePwd": PIN, "pwdLockedUntil": 10_001}
    assert rules.password_lock_seconds(coupon, 0) == 11
    assert rules.password_lock_seconds(coupon, 10_000) == 1
    assert rules.password_lock_seconds(coupon, 10_001) == 0
    assert rules.password_lock_seconds({**coupon, "onsitePwd": ""}, 0) == 0
    assert rules.password_lock_seconds({"onsitePwd": PIN}, 0) == 0
    lock_end = {"onsitePwd": PIN, "pwdLockedUntil": 10 + rules.PASSWORD_LOCK_MS}
    assert rules.password_lock_seconds(lock_end, 0) == 15 * 60  # never more than the lock lasts


def test_the_password_is_stored_as_a_digest_and_never_shown(api: Api) -> None:
    code = _pin_coupon(api)
    stored = _stored(api, code)["onsitePwd"]
    assert stored.startswith(rules.PASSWORD_DIGEST) and PIN not in stored
    shown = api.validate(code).result
    assert (shown["onsitePwd"], shown["onsitePwdSet"]) == ("", True)
    assert api.list().result["items"][0]["onsitePwd"] == ""
    assert api.redeem(code, onsitePwd=stored).code == 4225  # the digest is not the password
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_the_same_password_in_another_account_is_another_digest(api: Api, other_api: Api) -> None:
    mine, theirs = _pin_coupon(api), _pin_coupon(other_api)
    assert _stored(api, mine)["onsitePwd"] != _stored(other_api, theirs)["onsitePwd"]


def test_editing_the_password_keeps_it_a_digest_and_an_unchanged_one_changes_nothing(
    api: Api,
) -> None:
    code = _pin_coupon(api)
    before = _stored(api, code)
    assert api.update(code, onsitePwd=PIN).code == 0  # the same password: no change
    assert _stored(api, code)["ver"] == before["ver"]
    assert api.update(code, nm="renamed").code == 0  # other edits keep the digest
    assert _stored(api, code)["onsitePwd"] == before["onsitePwd"]
    assert api.update(code, onsitePwd="x" * 21).code == 4001  # still validated when edited
    assert api.update(code, onsitePwd="5678").code == 0
    assert api.redeem(code, onsitePwd=PIN).code == 4225
    assert api.redeem(code, onsitePwd="5678").code == 0
    assert api.update(code, onsitePwd="").code == 4091  # used: the password is a term


def test_a_coupon_stored_before_digests_keeps_its_clear_password_working(api: Api) -> None:
    code = _pin_coupon(api)
    client().update_item(  # as a coupon created by an earlier version was stored
        TableName=TABLE_NAME,
        Key=coupon_key(account_of(api), code),
        UpdateExpression="SET onsitePwd = :clear",
        ExpressionAttributeValues={":clear": {"S": PIN}},
    )
    assert api.validate(code).result["onsitePwd"] == ""
    assert api.redeem(code, onsitePwd="9999").code == 4225
    assert api.redeem(code, onsitePwd=PIN).code == 0


def test_guessing_across_a_batch_that_shares_a_password_locks_the_batch(api: Api) -> None:
    """Bulk coupons share one password: 4 wrong guesses on each never locked a coupon, so the
    password could be found across the batch (before: 318 guesses, no 4290)."""
    batch = api.create_bulk(5, useLimit=0, onsitePwd=PIN).result
    answers = [a for code in batch[:3] for a in _wrong(api, code, 4)]
    limit = rules.SHARED_PASSWORD_FAILURES
    assert answers[:limit] == [4225] * limit  # the tenth locks the batch's password
    assert set(answers[limit:]) == {4290}
    _assert_locked(api.redeem(batch[4], onsitePwd=PIN))  # a fresh coupon of the batch too
    other = _pin_coupon(api, onsitePwd="8080")  # another password of the account: its own
    assert api.redeem(other, onsitePwd="8080").code == 0
    assert api.redeem(api.create(useLimit=0).result).code == 0  # no password: untouched


def test_guessing_across_coupons_with_their_own_passwords_locks_the_account(api: Api) -> None:
    codes = [_pin_coupon(api, onsitePwd=f"pin-{n}") for n in range(13)]
    answers = [a for code in codes for a in _wrong(api, code, 4)]
    limit = rules.ACCOUNT_PASSWORD_FAILURES
    assert answers[:limit] == [4225] * limit and set(answers[limit:]) == {4290}
    _assert_locked(api.redeem(_pin_coupon(api, onsitePwd="fresh"), onsitePwd="fresh"))
    assert api.redeem(api.create(useLimit=0).result, onsitePwd="any").code == 0  # no password


def test_one_customers_typos_lock_only_their_coupon(api: Api, other_api: Api) -> None:
    mine = _pin_coupon(api)
    _wrong(api, mine, 5)
    _assert_locked(api.redeem(mine, onsitePwd=PIN))
    assert api.redeem(_pin_coupon(api), onsitePwd=PIN).code == 0  # same password, 5 < 10
    assert other_api.redeem(_pin_coupon(other_api), onsitePwd=PIN).code == 0


def test_a_shared_lock_ends_after_15_minutes(api: Api, clock: Callable[[int], None]) -> None:
    batch = api.create_bulk(3, useLimit=0, onsitePwd=PIN).result
    for code in batch:
        _wrong(api, code, 4)
    _assert_locked(api.redeem(batch[0], onsitePwd=PIN))
    clock(rules.PASSWORD_LOCK_MS + MINUTE_MS)
    assert api.redeem(batch[0], onsitePwd=PIN).code == 0
