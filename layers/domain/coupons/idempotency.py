"""Idempotency-Key: the first successful response to a key is remembered for 24 hours per
account and route, and replayed (with `Idempotent-Replayed: true`) to a retry with the same
body; a retry with another body is 422/4226, and one arriving while the first still runs is
409/4092. Refusals and errors are not remembered, so the retry runs for real.

`IdempotencyKey` is one request's key: it owns where its record lives, what the record holds,
how it is claimed and what a retry gets. Two ways to use it:
- `run` (create and create/bulk): powertools' idempotency utility claims the key, runs the
  operation and stores its response, through a persistence layer over our store;
- `guarded` (redeem and cancel): the completed record is claimed inside the operation's own
  transaction, so the key costs no extra round trip and a retry can never count a second use.
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from coupons import clock
from coupons.errors import CouponError, ErrorCode, Reason, invalid_field
from coupons.records import IdempotencyRecord
from coupons.store.idempotency import Guard, KeyInUse
from coupons.store.keys import idempotency_pk

HEADER = "Idempotency-Key"
TTL_SECONDS = 24 * 60 * 60
# A claimed key whose request died (timeout, crash) is free again after this; it is longer than
# any function's timeout (template.yaml).
IN_PROGRESS_MS = 30_000
KEY_SHAPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


@dataclass(frozen=True)
class Replayed[T]:
    """The remembered result of an earlier request with the same key and body. When the key
    keeps some fields private (a password), `private_matches` says whether this request
    presented the same values as the first one did."""

    result: T
    private_matches: bool = True


def checked_key(raw: str | None) -> str | None:
    """The request's Idempotency-Key (None when absent), or 4001 when it is not 1-255
    printable ASCII characters."""
    if raw is None:
        return None
    if not KEY_SHAPE.fullmatch(raw):  # not match: "$" would accept a trailing newline
        raise invalid_field(HEADER, Reason.NOT_AN_IDEMPOTENCY_KEY)
    return raw


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyKey:
    """One request's Idempotency-Key, scoped to its account and route, with its body."""

    account: str
    route: str
    key: str
    body: Mapping[str, Any]
    # Body fields kept out of the body's hash (an on-site password): a retry that differs
    # only in them is not told so by 4226, so that a replay is never an oracle for them; the
    # operation judges them itself (Replayed.private_matches).
    private: frozenset[str] = frozenset()

    @property
    def pk(self) -> str:
        return idempotency_pk(self.account, self.route, _hash(self.key))

    def _body_hash(self, *, whole: bool = False) -> str:
        """SHA-256 of the body's canonical UTF-8 JSON, without the private fields unless
        `whole`; a body that is not text (a lone surrogate, which JSON's \\u escapes allow
        in an ignored field) is 400/4000."""
        shown = {k: v for k, v in self.body.items() if whole or k not in self.private}
        canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            return _hash(canonical)
        except UnicodeEncodeError:
            raise CouponError(ErrorCode.MALFORMED_REQUEST) from None

    def _private_hash(self) -> str:
        """The private fields' values, hashed with the key's own partition as salt."""
        private = {k: v for k, v in self.body.items() if k in self.private}
        canonical = json.dumps(private, sort_keys=True, separators=(",", ":"))
        return _hash(self.pk + "\n" + canonical)

    def guard(self, result: object) -> Guard:
        """The completed record to claim in the same transaction as the effect it remembers."""
        record: IdempotencyRecord = {
            "status": "COMPLETED",
            "expiresAt": clock.now_ms() // 1000 + TTL_SECONDS,
            "validation": self._body_hash(),
            "data": json.dumps(result, separators=(",", ":")),
        }
        if self.private:
            record["privateHash"] = self._private_hash()
        return Guard(self.pk, record)

    def replay(self, record: IdempotencyRecord) -> Replayed[Any]:
        """What this request gets when its key already has `record`: 4226 when the body (but
        its private fields) differs, 4092 while the first request still runs, else the first
        answer. A record written before private fields existed hashed the whole body."""
        if record.get("validation") == self._body_hash(whole=True):
            private_matches = True
        elif self.private and record.get("validation") == self._body_hash():
            private_matches = record.get("privateHash") == self._private_hash()
        else:
            raise CouponError(ErrorCode.IDEMPOTENCY_MISMATCH)
        if record.get("status") != "COMPLETED":
            raise CouponError(ErrorCode.IDEMPOTENCY_IN_PROGRESS)
        return Replayed(json.loads(str(record.get("data"))), private_matches)

    def run[T](self, operation: Callable[[], T]) -> T | Replayed[T]:
        """Run `operation` once for this key, through powertools' idempotency utility
        (idempotency_layer.py, imported on the first request that has a key)."""
        from coupons.idempotency_layer import run_once

        return run_once(self, operation)


def remembered[T](key: IdempotencyKey | None, operation: Callable[[], T]) -> T | Replayed[T]:
    """`operation()` once per key (see IdempotencyKey.run), or plainly without a key."""
    return operation() if key is None else key.run(operation)


def guarded(
    key: IdempotencyKey | None, result: object, write: Callable[[Guard | None], object]
) -> Replayed[Any] | None:
    """Run `write(guard)`, the one request of an operation whose success answers `result`,
    with the key's completed record as its guard (None without a key). None when it wrote;
    the replay (or 4226/4092) when the key already had a record."""
    try:
        write(None if key is None else key.guard(result))
    except KeyInUse as used:
        assert key is not None  # only a guard can be in use
        return key.replay(used.old)
    return None
