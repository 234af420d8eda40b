"""`make bench`, redeem and cancel per case: every case a checkout meets (DESIGN section 6) -
the kind of coupon, with or without an Idempotency-Key, in a container that has redeemed it
before ("seen") or has not ("fresh": nobody has used it yet, or another container has).

On DynamoDB Local through the real handlers, counting every DynamoDB request the operation
sends, refused ones included (a refused write is billed too). Write units by DynamoDB's rules:
a write of the coupon costs one unit per started KB of the coupon item (its size measured after
the operation, off the record), any other item (a key's record, a moved-out redemption record)
one; a transaction bills each of its items twice.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstack.samples import coupon_fields

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstack.bench import Bench

RUNS = 9
KINDS: dict[str, dict[str, Any]] = {
    "single-use": {"useLimit": 1},
    "multi-use, userId": {"useLimit": 3, "userId": "u1"},
    "unlimited, shared": {"useLimit": 0},
}
REDEEM_CONTAINERS = ("seen", "fresh, unused", "fresh, used elsewhere")
CANCEL_CONTAINERS = ("seen", "fresh")
KB = 1024


@dataclass
class Sent:
    """The DynamoDB requests of one operation: (name, items written) each."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    def billed_writes(self, coupon_kb: int) -> int:
        """Write units by DynamoDB's rules; the coupon is the first item of a transaction."""
        units = 0
        for name, items in self.calls:
            if name == "TransactWriteItems":
                units += 2 * (coupon_kb + items - 1)
            elif name in {"UpdateItem", "PutItem", "DeleteItem"}:
                units += coupon_kb
        return units


@dataclass
class CaseRow:
    operation: str
    kind: str
    keyed: bool
    container: str
    sequence: str  # the most frequent sequence of requests
    requests_mean: float
    billed_writes: float
    coupon_bytes: int  # the coupon item after the operation (median; largest for a busy one)
    median_ms: float


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (names and values, in bytes)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    return 1  # BOOL, NULL


class Cases:
    """Measures the cases through `bench`'s handlers, recording the requests of the container's
    client (a new one after each fresh container)."""

    def __init__(self, bench: Bench, account: str) -> None:
        self.bench = bench
        self.account = account
        self.sent = Sent()
        self.recorded: Any = None  # the client whose requests are recorded

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.calls.append((model.name, len(params.get("TransactItems", [])) or 1))

    def _recording(self) -> None:
        """From now on, record what the container's client sends."""
        from coupons.store.client import every_client

        current = every_client()
        if self.recorded is None or current[0] is not self.recorded[0]:  # a fresh container
            self.recorded = current
            for watched in current:
                watched.meta.events.register("provide-client-params.dynamodb.*", self._record)
        self.sent = Sent()

    def _fresh_container(self) -> None:
        from coupons import containers

        containers.reset()
        self.bench.call("GET", "/list", query="limit=1")  # the API key looked up

    def _coupon_bytes(self, code: str) -> int:
        from coupons import settings
        from coupons.store.client import client
        from coupons.store.keys import coupon_key

        item = client().get_item(
            TableName=settings.current().table_name, Key=coupon_key(self.account, code)
        )["Item"]
        return item_size(item)

    def _coupon(self, kind: str) -> tuple[str, dict[str, str]]:
        """A new coupon of `kind`, and the user a redemption of it names."""
        fields = KINDS[kind]
        code = str(self.bench.call("POST", "/create", coupon_fields(**fields)))
        return code, {"userId": fields["userId"]} if "userId" in fields else {}

    def _redeem_setup(
        self, kind: str, container: str, keyed: bool
    ) -> tuple[str, Callable[[], Any]]:
        code, user = self._coupon(kind)
        if container != "fresh, unused":
            rdm_id = self.bench.call("POST", "/redeem", {"cpnNo": code, **user})["rdmId"]
            if kind == "single-use":  # given back, so that it can be redeemed again
                self.bench.call("POST", "/redeem/cancel", {"cpnNo": code, "rdmId": rdm_id})
        if container.startswith("fresh"):
            self._fresh_container()
        key = self.bench.unique("order") if keyed else ""
        return code, lambda: self.bench.call("POST", "/redeem", {"cpnNo": code, **user}, key=key)

    def _cancel_setup(
        self, kind: str, container: str, keyed: bool
    ) -> tuple[str, Callable[[], Any]]:
        code, user = self._coupon(kind)
        first = self.bench.call("POST", "/redeem", {"cpnNo": code, **user})["rdmId"]
        for _ in range((KINDS[kind]["useLimit"] or 2) - 1):
            self.bench.call("POST", "/redeem", {"cpnNo": code, **user})
        if container == "fresh":
            self._fresh_container()
        key = self.bench.unique("refund") if keyed else ""
        body = {"cpnNo": code, "rdmId": first}
        return code, lambda: self.bench.call("POST", "/redeem/cancel", body, key=key)

    def measure(self, operation: str, kind: str, keyed: bool, container: str) -> CaseRow:
        setup = self._redeem_setup if operation == "redeem" else self._cancel_setup
        runs: list[tuple[float, Sent, int]] = []
        for _ in range(RUNS):
            code, call = setup(kind, container, keyed)
            self._recording()
            started = time.perf_counter()
            call()
            elapsed = time.perf_counter() - started
            sent, self.sent = self.sent, Sent()  # detached: the size read is not counted
            runs.append((elapsed, sent, self._coupon_bytes(code)))
        sequences = Counter(_sequence(sent) for _, sent, _ in runs)
        return CaseRow(
            operation=operation,
            kind=kind,
            keyed=keyed,
            container=container,
            sequence=sequences.most_common(1)[0][0],
            requests_mean=statistics.mean(len(sent.calls) for _, sent, _ in runs),
            billed_writes=statistics.mean(
                sent.billed_writes(math.ceil(size / KB)) for _, sent, size in runs
            ),
            coupon_bytes=round(statistics.median(size for _, _, size in runs)),
            median_ms=statistics.median(elapsed for elapsed, _, _ in runs) * 1000,
        )


STEADY_RUNS = 48  # a multiple of store.redemptions.FLUSH_AT


def measure_busy_coupon(bench: Bench, account: str, *, keyed: bool) -> CaseRow:
    """One unlimited coupon redeemed STEADY_RUNS times in a row from one container: the mean
    requests and write units, with its share of moving the records out."""
    cases = Cases(bench, account)
    code = str(bench.call("POST", "/create", coupon_fields(useLimit=0)))
    runs: list[tuple[float, Sent, int]] = []
    for _ in range(STEADY_RUNS):
        key = bench.unique("order") if keyed else ""
        cases._recording()
        started = time.perf_counter()
        bench.call("POST", "/redeem", {"cpnNo": code}, key=key)
        elapsed = time.perf_counter() - started
        sent, cases.sent = cases.sent, Sent()
        runs.append((elapsed, sent, cases._coupon_bytes(code)))
    return CaseRow(
        operation="redeem",
        kind="unlimited, busy",
        keyed=keyed,
        container=f"mean of {STEADY_RUNS} in a row",
        sequence="",
        requests_mean=statistics.mean(len(sent.calls) for _, sent, _ in runs),
        billed_writes=statistics.mean(
            sent.billed_writes(math.ceil(size / KB)) for _, sent, size in runs
        ),
        coupon_bytes=max(size for _, _, size in runs),
        median_ms=statistics.median(elapsed for elapsed, _, _ in runs) * 1000,
    )


def _sequence(sent: Sent) -> str:
    names = [name for name, _ in sent.calls]
    return " + ".join(names)


def measure_cases(bench: Bench, account: str) -> list[CaseRow]:
    cases = Cases(bench, account)
    rows: list[CaseRow] = []
    for operation, containers in (("redeem", REDEEM_CONTAINERS), ("cancel", CANCEL_CONTAINERS)):
        for kind in KINDS:
            for keyed in (False, True):
                rows.extend(cases.measure(operation, kind, keyed, c) for c in containers)
    rows.extend(measure_busy_coupon(bench, account, keyed=keyed) for keyed in (False, True))
    return rows


def print_cases(rows: list[CaseRow]) -> None:
    print()
    print(
        f"Redeem and cancel per case on DynamoDB Local, {RUNS} runs each (refused requests count);"
        " requests and WCU billed: means; item B: the coupon item after; ms: median"
    )
    print(
        f"  {'operation':<7} {'coupon':<18} {'key':<4} {'container':<22} {'requests':>8}"
        f" {'WCU billed':>10} {'item B':>6} {'ms':>6}  sent"
    )
    for row in rows:
        print(
            f"  {row.operation:<7} {row.kind:<18} {'yes' if row.keyed else 'no':<4}"
            f" {row.container:<22} {row.requests_mean:>8.2f} {row.billed_writes:>10.2f}"
            f" {row.coupon_bytes:>6} {row.median_ms:>6.1f}  {row.sequence}"
        )
