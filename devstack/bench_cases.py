"""`make bench`, redeem and cancel per case: every case a checkout meets (DESIGN section 6) -
the kind of coupon, with or without an Idempotency-Key, in a container that has redeemed it
before ("seen") or has not ("fresh": nobody has used it yet, or another container has).
A shared code counted per customer (perUserLimit) is redeemed by a new customer each time
(another customer's use makes it "used"), a coupon with a minimum with an order above it.

On DynamoDB Local through the real handlers, counting every DynamoDB request the operation
sends, refused ones included (a refused write is billed too). Write units by DynamoDB's rules:
a write of the coupon costs one unit per started KB of the coupon item (its size measured after
the operation, off the record), any other item (a key's record, a customer's count of uses, a
moved-out redemption record) one; a transaction bills each of its items twice. Read units: a
read of the coupon (GetItem) costs half a unit per started 4 KB, a strongly consistent one a
whole unit; it is a request, not a write.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstack.samples import coupon_fields

if TYPE_CHECKING:
    from devstack.bench import Bench

RUNS = 9
KINDS: dict[str, dict[str, Any]] = {
    "single-use": {"useLimit": 1},
    "multi-use, userId": {"useLimit": 3, "userId": "u1"},
    "unlimited, shared": {"useLimit": 0},
    "shared, once per customer": {"useLimit": 0, "perUserLimit": 1},
    "with a minimum order": {"useLimit": 1, "minOrderAmt": 20},
}
# What a checkout's redeem sends besides the code, by kind (a coupon counted per customer: a
# userId of its own each time, see Cases._body). The sample coupon is $5 off USD.
SENT: dict[str, dict[str, Any]] = {
    "multi-use, userId": {"userId": "u1"},
    "with a minimum order": {"amount": 25.5},
}
REDEEM_CONTAINERS = ("seen", "fresh, unused", "fresh, used elsewhere")
CANCEL_CONTAINERS = ("seen", "fresh")
KB = 1024
READ_KB = 4 * KB
WRITES = frozenset({"UpdateItem", "PutItem", "DeleteItem"})


@dataclass
class Sent:
    """The DynamoDB requests of one operation: (name, items written, strongly consistent)
    each. A transaction's items are its actions (the coupon, a key's record, a customer's
    count of uses, a checked counter); a single write or a read has one item."""

    calls: list[tuple[str, int, bool]] = field(default_factory=list)

    def billed_writes(self, coupon_bytes: int) -> int:
        """Write units by DynamoDB's rules: one transaction item is the coupon (a unit per
        started KB), every other item is under 1 KB; a read writes nothing."""
        coupon_kb = max(1, math.ceil(coupon_bytes / KB))
        units = 0
        for name, items, _ in self.calls:
            if name == "TransactWriteItems":
                units += 2 * (coupon_kb + items - 1)
            elif name in WRITES:
                units += coupon_kb
        return units

    def read_units(self, coupon_bytes: int) -> float:
        """Read units of the coupon reads (GetItem): half a unit per started 4 KB, a strongly
        consistent read a whole one."""
        per_read = max(1, math.ceil(coupon_bytes / READ_KB))
        return sum(
            per_read * (1.0 if consistent else 0.5)
            for name, _, consistent in self.calls
            if name == "GetItem"
        )


@dataclass
class CaseRow:
    operation: str
    kind: str
    keyed: bool
    container: str
    sequence: str  # the most frequent sequence of requests
    requests_mean: float
    billed_writes: float
    read_units: float
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
        items = len(params.get("TransactItems", [])) or 1
        self.sent.calls.append((model.name, items, bool(params.get("ConsistentRead"))))

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

    def _coupon(self, kind: str) -> str:
        """A new coupon of `kind`."""
        return str(self.bench.call("POST", "/create", coupon_fields(**KINDS[kind])))

    def _body(self, kind: str, code: str) -> dict[str, Any]:
        """A redeem body of a checkout for a coupon of `kind`: a coupon counted per customer is
        redeemed by a customer who has not used it yet (a second use would be refused, 4230)."""
        body = {"cpnNo": code, **SENT.get(kind, {})}
        if KINDS[kind].get("perUserLimit"):
            body["userId"] = self.bench.unique("customer")
        return body

    def _redeem(self, kind: str, code: str) -> str:
        """One use of the coupon (untimed), its rdmId."""
        return str(self.bench.call("POST", "/redeem", self._body(kind, code))["rdmId"])

    def _redeem_setup(
        self, kind: str, container: str, keyed: bool
    ) -> tuple[str, Callable[[], Any]]:
        code = self._coupon(kind)
        if container != "fresh, unused":  # used (by another customer of a per-customer code)
            rdm_id = self._redeem(kind, code)
            if KINDS[kind]["useLimit"] == 1:  # given back, so that it can be redeemed again
                self.bench.call("POST", "/redeem/cancel", {"cpnNo": code, "rdmId": rdm_id})
        if container.startswith("fresh"):
            self._fresh_container()
        key = self.bench.unique("order") if keyed else ""
        body = self._body(kind, code)
        return code, lambda: self.bench.call("POST", "/redeem", body, key=key)

    def _cancel_setup(
        self, kind: str, container: str, keyed: bool
    ) -> tuple[str, Callable[[], Any]]:
        code = self._coupon(kind)
        first = self._redeem(kind, code)
        for _ in range((KINDS[kind]["useLimit"] or 2) - 1):
            self._redeem(kind, code)
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
            billed_writes=statistics.mean(sent.billed_writes(size) for _, sent, size in runs),
            read_units=statistics.mean(sent.read_units(size) for _, sent, size in runs),
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
        billed_writes=statistics.mean(sent.billed_writes(size) for _, sent, size in runs),
        read_units=statistics.mean(sent.read_units(size) for _, sent, size in runs),
        coupon_bytes=max(size for _, _, size in runs),
        median_ms=statistics.median(elapsed for elapsed, _, _ in runs) * 1000,
    )


def _sequence(sent: Sent) -> str:
    names = [name for name, _, _ in sent.calls]
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


def print_cases(rows: list[CaseRow], cost: Callable[[CaseRow], float]) -> None:
    """The table; `cost`: a row's dollars per million operations at list prices."""
    width = max(len(row.kind) for row in rows)
    print()
    print(
        f"Redeem and cancel per case on DynamoDB Local, {RUNS} runs each (refused requests count);"
        " requests, WCU billed and RCU: means; item B: the coupon item after; ms: median;"
        " $/M: per million at list prices (DynamoDB, Lambda at the median ms, HTTP API)"
    )
    print(
        f"  {'operation':<9} {'coupon':<{width}} {'key':<4} {'container':<22} {'requests':>8}"
        f" {'WCU billed':>10} {'RCU':>5} {'item B':>6} {'ms':>6} {'$/M':>6}  sent"
    )
    for row in rows:
        print(
            f"  {row.operation:<9} {row.kind:<{width}} {'yes' if row.keyed else 'no':<4}"
            f" {row.container:<22} {row.requests_mean:>8.2f} {row.billed_writes:>10.2f}"
            f" {row.read_units:>5.2f} {row.coupon_bytes:>6} {row.median_ms:>6.1f}"
            f" {cost(row):>6.2f}  {row.sequence}".rstrip()
        )
