"""Webhook events from committed changes (DESIGN 2.9), read from the table's stream: each
record is a change DynamoDB committed, so a refused redemption, a replayed idempotent request
or a cancelled transaction, which commit nothing, emit nothing.

- coupon.redeemed: a redemption record appeared on the coupon (its `rdm` map) with a use.
- coupon.used_up: that use was the last the coupon allows (rules.use_cap).
- coupon.redemption_cancelled: a record on the coupon, or one moved to an item of its own,
  went from REDEEMED to CANCELLED.
- coupon.deleted: the coupon item went away.
Records moving out of the coupon item (to items of their own) change nothing and emit nothing.

Each event's id is derived from what it reports (the account, code, coupon instance, record
and type), so a stream record handled twice gives the same id: the sender keeps one delivery
per id (at-least-once delivery, exactly one event per committed change)."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from coupons import rules
from coupons.store.items import from_item
from coupons.store.keys import COUPON_SK, REDEMPTION_PREFIX

EventType = Literal[
    "coupon.redeemed", "coupon.used_up", "coupon.redemption_cancelled", "coupon.deleted"
]
# Only coupon items and moved-out redemption records can make events (the event function's
# stream filter says the same to Lambda, template.yaml).
_COUPON_PARTITION = "#C#"


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    account: str
    cpn_no: str
    created: int  # ms: when the change was committed (the stream record's time)
    # The coupon as it is after the change (before it, when deleted); {} until the events
    # function reads it (a cancelled record of its own names only its code).
    coupon: dict[str, Any]
    redemption: dict[str, Any] | None

    def body(self) -> bytes:
        """The JSON a receiver gets, compact, keys in a stable order."""
        data: dict[str, Any] = {"coupon": self.coupon}
        if self.redemption is not None:
            data["redemption"] = self.redemption
        document = {"id": self.id, "type": self.type, "created": self.created // 1000, "data": data}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def event_id(account: str, cpn_no: str, cid: str, rdm_id: str, kind: str, created: int) -> str:
    """Time-ordered (the change's time in ms, 12 hex digits), then a digest of what the event
    reports: the same change read twice gets the same id; deliveries list newest first."""
    digest = hashlib.sha256(f"{account}|{cpn_no}|{cid}|{rdm_id}|{kind}".encode()).hexdigest()
    return f"evt_{created:012x}{digest[:20]}"


def from_record(record: Mapping[str, Any]) -> list[Event]:
    """The events one stream record (NEW_AND_OLD_IMAGES) carries, in order; [] for any other
    change, for a coupon whose webhooks are off (webhookEnableYn N), and for an item this code
    cannot read (said in the log: one such record must not hold up its shard)."""
    try:
        return _from_record(record)
    except (KeyError, TypeError, ValueError):
        from coupons.observability import logger

        logger.exception("stream record not understood")
        return []


def _from_record(record: Mapping[str, Any]) -> list[Event]:
    change = record.get("dynamodb") or {}
    keys = from_item(change.get("Keys")) or {}
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    if not pk.startswith("A#") or _COUPON_PARTITION not in pk:
        return []
    account, cpn_no = pk[2:].split(_COUPON_PARTITION, 1)
    old = from_item(change.get("OldImage")) or {}
    new = from_item(change.get("NewImage")) or {}
    created = int(float(change.get("ApproximateCreationDateTime", 0)) * 1000)
    name = record.get("eventName")
    if sk == COUPON_SK:
        return _coupon_events(account, cpn_no, name, old, new, created)
    if sk.startswith(REDEMPTION_PREFIX) and name == "MODIFY":
        return _moved_out_cancel(account, cpn_no, old, new, created)
    return []


def _coupon_events(
    account: str, cpn_no: str, name: object, old: dict[str, Any], new: dict[str, Any], created: int
) -> list[Event]:
    if name == "REMOVE":
        if old.get("webhookEnableYn") != "Y":
            return []
        cid = str(old.get("cid", ""))
        return [
            Event(event_id(account, cpn_no, cid, "", "deleted", created), "coupon.deleted", account,
                  cpn_no, created, public(old), None)
        ]  # fmt: skip
    if name != "MODIFY" or new.get("webhookEnableYn") != "Y" or old.get("cid") != new.get("cid"):
        return []
    cid = str(new["cid"])
    before, after = old.get("rdm") or {}, new.get("rdm") or {}
    found: list[tuple[str, str, Mapping[str, Any]]] = []  # (rdmId, kind, record)
    for rdm_id, record in after.items():
        was = before.get(rdm_id)
        if was is None and record.get("status") == "REDEEMED":
            found.append((rdm_id, "redeemed", record))
            if _last_use(old, new):
                found.append((rdm_id, "used_up", record))
        elif was is not None and (was.get("status"), record.get("status")) == ("REDEEMED", "CANCELLED"):  # fmt: skip
            found.append((rdm_id, "redemption_cancelled", record))
    if not found:
        return []
    shown = public(new)  # once for the record's events (a record moving out has none)
    return [
        Event(event_id(account, cpn_no, cid, rdm_id, kind, created), f"coupon.{kind}",  # type: ignore[arg-type]
              account, cpn_no, created, shown, redemption(rdm_id, record))
        for rdm_id, kind, record in found
    ]  # fmt: skip


def _moved_out_cancel(
    account: str, cpn_no: str, old: dict[str, Any], new: dict[str, Any], created: int
) -> list[Event]:
    """A record of its own cancelled. Its coupon's webhook flag is not on the record: the
    event function reads the coupon (see `needs_coupon`)."""
    if old.get("status") != "REDEEMED" or new.get("status") != "CANCELLED":
        return []
    rdm_id = str(new.get("rdmId", ""))
    coupon: dict[str, Any] = {}  # completed by the event function from the coupon item
    return [
        Event(event_id(account, cpn_no, "", rdm_id, "redemption_cancelled", created),
              "coupon.redemption_cancelled", account, cpn_no, created, coupon,
              redemption(rdm_id, new))
    ]  # fmt: skip


def _last_use(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The change counted the last use the coupon allows (no event for an unlimited one)."""
    cap = rules.use_cap(new)
    return bool(cap) and int(old.get("useCnt", 0)) < cap <= int(new.get("useCnt", 0))


def public(coupon: Mapping[str, Any]) -> dict[str, Any]:
    """The coupon as the API's coupon object shows it (views.coupon_object: never the on-site
    password, the page key or the lock state)."""
    from coupons.views import coupon_object

    return dict(coupon_object(coupon, "en"))  # type: ignore[arg-type]


def redemption(rdm_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return {"rdmId": rdm_id, **{k: v for k, v in record.items() if k not in ("PK", "SK", "rdmId")}}
