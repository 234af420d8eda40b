"""Storage faults on the real engine: DynamoDB Local stopped (SIGSTOP: it accepts connections
and never answers) and killed (connections refused) under a load of keyed redemptions.

Every answer comes well inside the function's timeout, and is either a success or 503/5030
with Retry-After; once DynamoDB is back, retrying each 503 with its Idempotency-Key settles
it, and then the ledger matches the answers exactly: every 200 has its record, every record
has its 200, and each coupon's count is its records'."""

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

from coupons import accounts
from coupons.store.client import WORST_CASE_S
from devstack.dynamodb_local import DynamoDBLocal, ensure_table, free_port
from tests.conftest import TABLE_NAME, Api, Response, reset_containers
from tests.integration.conftest import redemption_records, stored_coupon

FUNCTION_TIMEOUT_S = 10  # template.yaml
WORKERS = 6
COUPONS = 3


@dataclass
class Load:
    """Keyed redemptions sent by WORKERS threads until stopped, each answer kept with its
    latency; the key makes each one an order that can be retried safely."""

    api: Api
    codes: list[str]
    answers: list[tuple[str, str, Response, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_while(self, disturb: Callable[[], None]) -> None:
        threads = [threading.Thread(target=self._worker, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        try:
            disturb()
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=3 * FUNCTION_TIMEOUT_S)

    def _worker(self, number: int) -> None:
        sent = 0
        while not self._stop.is_set():
            code = self.codes[sent % len(self.codes)]
            key = f"order-{number}-{sent}-{time.monotonic_ns()}"
            started = time.monotonic()
            answer = self.api.with_key(key).redeem(code)
            with self._lock:
                self.answers.append((code, key, answer, time.monotonic() - started))
            sent += 1
            if answer.status == 503:  # a client backs off (Retry-After) before its next order
                time.sleep(0.25)


@pytest.fixture
def faulty_dynamodb(coupon_table: str, tmp_path: Path) -> Iterator[DynamoDBLocal]:
    """A DynamoDB Local of this test's own (data on disk, so it survives a kill), with the
    functions pointed at it; the shared one is restored afterwards."""
    ddb = DynamoDBLocal(port=free_port(), db_path=tmp_path / "data")
    ddb.start()
    try:
        ensure_table(ddb.endpoint, TABLE_NAME)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
        reset_containers()
        yield ddb
    finally:
        ddb.stop()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = coupon_table
        reset_containers()


def _signal(ddb: DynamoDBLocal, sig: signal.Signals) -> None:
    assert ddb.pid is not None
    os.killpg(ddb.pid, sig)


def _check_answers(load: Load) -> list[tuple[str, str, Response, float]]:
    """Every answer is a success or 503/5030 with Retry-After, inside the function timeout;
    returns the 503s."""
    assert load.answers
    slowest = max(latency for *_, latency in load.answers)
    assert slowest < min(FUNCTION_TIMEOUT_S - 1, WORST_CASE_S + 1.5), slowest
    outcomes = {(answer.status, answer.code) for _, _, answer, _ in load.answers}
    assert outcomes <= {(200, 0), (503, 5030)}, outcomes
    busy = [entry for entry in load.answers if entry[2].status == 503]
    assert all(answer.headers["Retry-After"] == "1" for _, _, answer, _ in busy)
    # The figures the closing notes quote (shown with pytest -s).
    print(f"{len(load.answers)} answers, {len(busy)} x 503, slowest {slowest:.2f} s")
    return busy


def _settle_and_check_ledger(load: Load, busy: list[tuple[str, str, Response, float]]) -> None:
    """Retry every 503 with its key (the safe retry the 503 promises), then compare."""
    rdm_ids = {answer.result["rdmId"] for _, _, answer, _ in load.answers if answer.status == 200}
    for code, key, _, _ in busy:
        retry = load.api.with_key(key).redeem(code)
        assert (retry.status, retry.code) == (200, 0), retry.body
        rdm_ids.add(retry.result["rdmId"])
    recorded: set[str] = set()
    for code in load.codes:
        records = redemption_records(load.api, code)
        recorded |= {str(record["rdmId"]) for record in records}
        coupon = stored_coupon(load.api, code)
        assert coupon is not None and coupon["useCnt"] == len(records)
    assert rdm_ids == recorded


def _prepared_load() -> Load:
    api = Api(accounts.create_account("faults")[1])  # in-process handlers
    codes = [api.create(useLimit=0).result for _ in range(COUPONS)]
    return Load(api, codes)


def _stop_for_a_while(ddb: DynamoDBLocal) -> None:
    """Silent: it accepts connections and never answers, longer than any request may wait."""
    time.sleep(1.0)
    _signal(ddb, signal.SIGSTOP)
    time.sleep(WORST_CASE_S + 2)
    _signal(ddb, signal.SIGCONT)
    time.sleep(1.0)


def _kill_and_restart(ddb: DynamoDBLocal) -> None:
    """Dead: connections refused, until it is back with the same data on the same port."""
    time.sleep(1.0)
    # SIGTERM, not SIGKILL: DynamoDB Local acknowledges a write before its data file has it,
    # so SIGKILL can lose an answered transaction (seen: one 200 without its record), which
    # DynamoDB itself never does; SIGTERM lets it close its files.
    _signal(ddb, signal.SIGTERM)
    time.sleep(2.0)
    ddb.stop()  # reaps the killed process
    ddb.start()
    time.sleep(1.0)


@pytest.mark.parametrize("fault", [_stop_for_a_while, _kill_and_restart], ids=["silent", "dead"])
def test_a_failing_dynamodb_is_answered_503_fast_and_the_ledger_holds(
    faulty_dynamodb: DynamoDBLocal, fault: Callable[[DynamoDBLocal], None]
) -> None:
    load = _prepared_load()
    load.run_while(partial(fault, faulty_dynamodb))
    busy = _check_answers(load)
    assert busy, "no request met the failing DynamoDB"
    _settle_and_check_ledger(load, busy)
