"""Storage faults on the real engine, under a load of keyed redemptions: DynamoDB Local
stopped (SIGSTOP: it accepts connections and never answers), and DynamoDB gone (connections
cut and refused, at a TCP proxy in front of DynamoDB Local: killing DynamoDB Local itself
loses writes it has already answered, with SIGKILL and SIGTERM alike, which DynamoDB never
does, so the ledger could not be checked afterwards).

Every answer comes well inside the function's timeout, and is either a success or 503/5030
with Retry-After; once DynamoDB is back, retrying each 503 with its Idempotency-Key settles
it, and then the ledger matches the answers exactly: every 200 has its record, every record
has its 200, and each coupon's count is its records'."""

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

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


class CuttableProxy:
    """A TCP proxy to DynamoDB Local that can be cut: while cut, new connections are refused
    and the open ones are closed, as if DynamoDB were gone; restored, it listens again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for connection in self._open:
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()


@dataclass
class Faulty:
    ddb: DynamoDBLocal
    proxy: CuttableProxy


@pytest.fixture
def faulty_dynamodb(coupon_table: str) -> Iterator[Faulty]:
    """A DynamoDB Local of this test's own behind a proxy, with the functions pointed at the
    proxy; the shared one is restored afterwards."""
    ddb = DynamoDBLocal(port=free_port())
    ddb.start()
    assert ddb.port is not None
    proxy = CuttableProxy(ddb.port)
    proxy.restore()
    try:
        ensure_table(ddb.endpoint, TABLE_NAME)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.endpoint
        reset_containers()
        yield Faulty(ddb, proxy)
    finally:
        proxy.cut()
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


def _stop_for_a_while(faulty: Faulty) -> None:
    """Silent: it accepts connections and never answers, longer than any request may wait."""
    time.sleep(1.0)
    _signal(faulty.ddb, signal.SIGSTOP)
    time.sleep(WORST_CASE_S + 2)
    _signal(faulty.ddb, signal.SIGCONT)
    time.sleep(1.0)


def _gone_for_a_while(faulty: Faulty) -> None:
    """Gone: open connections cut and new ones refused, then back."""
    time.sleep(1.0)
    faulty.proxy.cut()
    time.sleep(3.0)
    faulty.proxy.restore()
    time.sleep(1.0)


@pytest.mark.parametrize("fault", [_stop_for_a_while, _gone_for_a_while], ids=["silent", "gone"])
def test_a_failing_dynamodb_is_answered_503_fast_and_the_ledger_holds(
    faulty_dynamodb: Faulty, fault: Callable[[Faulty], None]
) -> None:
    load = _prepared_load()
    load.run_while(partial(fault, faulty_dynamodb))
    busy = _check_answers(load)
    assert busy, "no request met the failing DynamoDB"
    _settle_and_check_ledger(load, busy)
