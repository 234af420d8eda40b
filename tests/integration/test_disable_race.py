"""Disable racing redemptions on the real engine, with real threads (DESIGN 2.6): disable is
one UpdateItem of the coupon and every redemption's condition carries the status, so DynamoDB
orders them. Every redemption either counted (before the disable) or got 4231 (after it), and
none that started after the disable answered can have counted."""

import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from tests.conftest import Api
from tests.integration.conftest import redemption_records, stored_coupon

pytestmark = pytest.mark.integration

WORKERS = 16
KEYED_EVERY = 4  # every 4th worker sends an Idempotency-Key (a transaction, not an UpdateItem)
SUCCESSES_BEFORE_DISABLE = 30
ATTEMPTS_AFTER_DISABLE = 3  # by each worker, after the disable answered


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() before the request was sent
    code: int


def test_redemptions_racing_a_disable(api: Api) -> None:
    code = api.create(useLimit=0).result
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    disabled_at: list[float] = []  # when the disable's answer came back
    stop = threading.Event()

    def redeem_until_stopped(worker: int) -> None:
        attempt, after_disable = 0, 0
        while not stop.is_set() and after_disable < ATTEMPTS_AFTER_DISABLE:
            keyed = worker % KEYED_EVERY == 0
            caller = api.with_key(f"w{worker}-{attempt}") if keyed else api
            started = time.monotonic()
            answer = caller.redeem(code, memo=f"w{worker}-{attempt}")
            with lock:
                outcomes.append(Outcome(started, answer.code))
                if disabled_at and started > disabled_at[0]:
                    after_disable += 1
            attempt += 1

    threads = [threading.Thread(target=redeem_until_stopped, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if sum(o.code == 0 for o in outcomes) >= SUCCESSES_BEFORE_DISABLE:
                    break
            time.sleep(0.005)
        answer = api.disable(code)
        with lock:
            disabled_at.append(time.monotonic())
        assert answer.code == 0, answer.body
    finally:
        if not disabled_at:  # the disable failed: stop the workers now
            stop.set()
        for thread in threads:
            thread.join(timeout=120)
        stop.set()
    assert not any(thread.is_alive() for thread in threads)

    codes = Counter(o.code for o in outcomes)
    assert set(codes) == {0, 4231}, codes
    successes = codes[0]
    assert successes >= SUCCESSES_BEFORE_DISABLE
    late = [o for o in outcomes if o.started > disabled_at[0]]
    assert len(late) >= WORKERS * ATTEMPTS_AFTER_DISABLE
    assert {o.code for o in late} == {4231}  # none that started after the answer counted
    stored = stored_coupon(api, code)
    assert stored is not None and stored.get("status") == "DISABLED"
    assert stored["useCnt"] == successes
    records = redemption_records(api, code)
    assert len(records) == successes and {r["status"] for r in records} == {"REDEEMED"}
    assert api.validate(code).code == 4231
