"""The on-site password lockout on the real engine with real threads: concurrent wrong
passwords are each counted once, the 5th locks, and the lock holds (DESIGN 2.5)."""

import itertools
from collections import Counter
from functools import partial

import pytest

from coupons import accounts, clock, rules, settings
from coupons.store.client import client
from coupons.store.keys import coupon_key
from tests.conftest import Api, Dates, Response, account_of
from tests.integration.conftest import in_parallel, redemption_records, stored_coupon
from tests.integration.test_condition_matches_rules import COUPONS, REQUESTS

pytestmark = pytest.mark.integration

PIN = "1234"
WRONG = "0000"


def _retry_after(answer: Response) -> int:
    return int({k.lower(): v for k, v in answer.headers.items()}["retry-after"])


def _assert_locked(answer: Response) -> None:
    assert (answer.status, answer.code) == (429, 4290)
    assert 0 < _retry_after(answer) <= 15 * 60


@pytest.mark.parametrize("already_wrong", [0, 3])
def test_concurrent_wrong_passwords_count_exactly_up_to_the_lock(
    api: Api, already_wrong: int
) -> None:
    for round_ in range(3):
        pin = f"{PIN}-{round_}"  # each its own password: the coupon's lock, not a shared one
        code = api.create(useLimit=0, onsitePwd=pin).result
        for _ in range(already_wrong):
            assert api.redeem(code, onsitePwd=WRONG).code == 4225
        answers = in_parallel([partial(api.redeem, code, onsitePwd=WRONG)] * 20, workers=20)
        counted = 5 - already_wrong
        assert Counter(a.code for a in answers) == {4225: counted, 4290: 20 - counted}
        for answer in answers:
            if answer.code == 4290:
                _assert_locked(answer)
        _assert_locked(api.redeem(code, onsitePwd=pin))  # the lock holds for the right one
        stored = stored_coupon(api, code)
        assert stored is not None and "pwdFailTs" not in stored and stored["useCnt"] == 0


def test_concurrent_right_and_wrong_passwords_keep_the_invariants(api: Api) -> None:
    """20 right and 20 wrong at once, on an unlimited coupon. Writes to the coupon are
    serialized: each success forgets the failures, so at most 4 are counted between two
    successes and the 5th locks, after which nothing succeeds. Hence: right passwords get
    0 or 4290, wrong ones 4225 or 4290; every success is one use with its record; at most
    4 * successes + 5 failures are counted; if anything was locked out, the coupon is locked
    now; and a locked coupon refuses the right password, an unlocked one takes it."""
    for _ in range(3):
        code = api.create(useLimit=0, onsitePwd=PIN).result
        calls = []
        for _ in range(20):
            calls += [
                partial(api.redeem, code, onsitePwd=PIN),
                partial(api.redeem, code, onsitePwd=WRONG),
            ]
        answers = in_parallel(calls, workers=40)
        right, wrong = answers[0::2], answers[1::2]
        assert {a.code for a in right} <= {0, 4290}
        assert {a.code for a in wrong} <= {4225, 4290}
        successes = sum(a.code == 0 for a in right)
        counted = sum(a.code == 4225 for a in wrong)
        assert counted <= 4 * successes + 5
        stored = stored_coupon(api, code)
        assert stored is not None
        assert stored["useCnt"] == successes == len(redemption_records(api, code))
        if any(a.code == 4290 for a in answers):
            assert "pwdLockedUntil" in stored
        # The failure that locks answers 4225 itself, so a lock can also follow the last answer.
        if "pwdLockedUntil" in stored:
            _assert_locked(api.redeem(code, onsitePwd=PIN))
        else:
            assert counted <= 4 * successes + 4
            assert api.redeem(code, onsitePwd=PIN).code == 0


def test_a_lock_on_one_coupon_leaves_its_neighbours_alone(api: Api) -> None:
    locked, neighbour = (api.create(useLimit=0, onsitePwd=PIN).result for _ in range(2))
    answers = in_parallel(
        [partial(api.redeem, locked, onsitePwd=WRONG)] * 10
        + [partial(api.redeem, neighbour, onsitePwd=PIN)] * 10,
        workers=20,
    )
    assert Counter(a.code for a in answers[:10]) == {4225: 5, 4290: 5}
    assert Counter(a.code for a in answers[10:]) == {0: 10}
    _assert_locked(api.redeem(locked, onsitePwd=PIN))
    assert api.redeem(neighbour, onsitePwd=PIN).code == 0


@pytest.mark.parametrize("lock_ends_in_ms", [10 * 60_000, -1])
def test_engine_and_rules_agree_on_locked_coupons(
    coupon_table: str, dates: Dates, lock_ends_in_ms: int
) -> None:
    """The redeem condition refuses exactly what rules.refusal refuses, with the same code,
    for every coupon of the rules matrix carrying a lock (running, or just ended) and recent
    failures, and every request (the lock placed right before the password)."""
    today = dates.today()
    disagreements = []
    seen: set[int] = set()
    for coupon_fields, request in itertools.product(COUPONS, REQUESTS):
        # An account per case: the matrix's wrong passwords would lock the account's shared
        # counters, which rules.refusal (one coupon's rules) does not know about.
        api = Api(accounts.create_account("lock matrix")[1])  # in-process, on DynamoDB Local
        account = account_of(api)
        fields = dates.fill(coupon_fields)
        code = api.create(**fields).result
        now = clock.now_ms()
        client().update_item(
            TableName=settings.current().table_name,
            Key=coupon_key(account, code),
            UpdateExpression="SET pwdLockedUntil = :until, pwdFailTs = :fails",
            ExpressionAttributeValues={
                ":until": {"N": str(now + lock_ends_in_ms)},
                ":fails": {"L": [{"N": str(now - 1)}]},
            },
        )
        stored = stored_coupon(api, code)
        assert stored is not None
        answer = api.redeem(code, **request)
        expected = rules.refusal(
            stored,
            today,
            clock.now_ms(),
            user_id=request["userId"],
            onsite_pwd=rules.Presented.of(account, request["onsitePwd"]).as_stored(
                stored["onsitePwd"]
            ),
            redeeming=True,
        )
        seen.add(answer.code)
        if answer.code != (expected or 0):
            disagreements.append((fields, request, answer.code, expected))
        if answer.code == 4290:
            assert 0 < _retry_after(answer) <= 10 * 60
    assert disagreements == []
    assert (4290 in seen) == (lock_ends_in_ms > 0)
    assert {0, 4220, 4223, 4224} <= seen


def test_guessing_across_a_batch_locks_it_under_concurrency(api: Api) -> None:
    """The attack that found a batch's shared password (100 coupons, 4 guesses each, no 4290)
    meets the batch's lock: at most rules.SHARED_PASSWORD_FAILURES wrong passwords are ever
    answered 4225, whatever the interleaving, and the right one then gets 4290 too."""
    batch = api.create_bulk(100, useLimit=0, onsitePwd="1357").result
    guesses = [partial(api.redeem, code, onsitePwd=f"{n:04d}") for code in batch for n in range(4)]
    answers = Counter(answer.code for answer in in_parallel(guesses, workers=16))
    assert set(answers) == {4225, 4290}
    assert answers[4225] <= rules.SHARED_PASSWORD_FAILURES
    right = api.redeem(batch[-1], onsitePwd="1357")
    assert (right.status, right.code) == (429, 4290)
