"""Webhooks (DESIGN 2.9): the account's settings, the events of committed changes turned into
deliveries (the events function, fed by the table's stream), each delivery's attempts (the
sender, fed by the queue), and the delivery log. Nothing here runs on the redeem path."""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from coupons import clock, cursors, settings
from coupons.clock import local_time
from coupons.errors import CouponError, ErrorCode, Reason, invalid_field
from coupons.queries import PageQuery
from coupons.records import DeliveryView, Page, WebhookObject, WebhookSet
from coupons.store import coupons as coupon_items
from coupons.store import webhooks as webhook_items
from coupons.webhooks import delivery, queue, signing, targets
from coupons.webhooks.events import Event, from_record, public

if TYPE_CHECKING:
    from coupons.models import RedeliverRequest, WebhookRequest

PENDING, RETRYING, DELIVERED, FAILED = "PENDING", "RETRYING", "DELIVERED", "FAILED"


def _target(url: str) -> targets.Target:
    return targets.checked(url, allow_local=settings.current().webhook_allow_local)


# --- the account's settings --------------------------------------------------------------------


def set_webhook(account: str, request: "WebhookRequest") -> WebhookSet:
    """Where the account's events go: checked now (https, public addresses) and again at
    each send. The signing secret is made with the webhook, and shown only then."""
    try:
        _target(request.url)
    except targets.UnsafeTarget:
        raise invalid_field("url", Reason.NOT_A_WEBHOOK_TARGET) from None
    fresh = signing.new_secret()
    stored = webhook_items.put_settings(
        account, request.url, request.enabled, fresh, clock.now_ms()
    )
    created = stored["secret"] == fresh
    return {"url": request.url, "enabled": request.enabled, "secret": fresh if created else None}


def get_webhook(account: str) -> WebhookObject | None:
    stored = webhook_items.get_settings(account)
    if stored is None:
        return None
    return {
        "url": str(stored["url"]),
        "enabled": bool(stored["enabled"]),
        "createdYmdt": local_time(int(stored["createdTs"])),
        "updatedYmdt": local_time(int(stored["updatedTs"])),
    }


def rotate_secret(account: str) -> dict[str, str]:
    """A new signing secret, in use from the next attempt on (the old one stops at once)."""
    secret = signing.new_secret()
    if not webhook_items.rotate_secret(account, secret, clock.now_ms()):
        raise CouponError(ErrorCode.WEBHOOK_NOT_SET)
    return {"secret": secret}


# --- events -> deliveries (the events function) -------------------------------------------------


def record_events(
    records: Iterable[Mapping[str, Any]], enabled: dict[str, bool] | None = None
) -> int:
    """Turn stream records into deliveries, each queued once: an event whose id has a
    delivery already (a record seen again) is not queued again. The number of new deliveries.
    `enabled`: whether each account's webhook is on, as read for this batch (filled here)."""
    made = 0
    enabled = {} if enabled is None else enabled
    for record in records:
        for event in from_record(record):
            if event.account not in enabled:
                found = webhook_items.get_settings(event.account)
                enabled[event.account] = bool(found and found.get("enabled"))
            if not enabled[event.account]:
                continue
            ready = _completed(event)
            if ready is not None and _recorded(ready):
                _queued(ready)
                made += 1
    return made


def _completed(event: Event) -> Event | None:
    """A cancellation of a record of its own names only its code: the coupon, read now, says
    whether its webhooks are on and what it is (None: off, or the coupon is gone)."""
    if event.coupon:
        return event
    coupon = coupon_items.get(event.account, event.cpn_no)
    if coupon is None or coupon.get("webhookEnableYn") != "Y":
        return None
    return Event(
        event.id, event.type, event.account, event.cpn_no, event.created, public(coupon),
        event.redemption,
    )  # fmt: skip


def _queued(event: Event) -> None:
    """Queue a delivery just recorded. If the queue refuses it, the record goes too, so that
    the stream record, which fails and comes again, records and queues it then (one retry
    chain per delivery, never a delivery recorded and never queued)."""
    try:
        queue.enqueue(event.account, event.id)
    except Exception:
        webhook_items.forget_delivery(event.account, event.id)
        raise


def _recorded(event: Event) -> bool:
    return webhook_items.put_delivery(
        event.account,
        {
            "id": event.id,
            "type": event.type,
            "cpnNo": event.cpn_no,
            "body": event.body().decode(),
            "status": PENDING,
            "attempts": 0,
            "createdTs": event.created,
        },
    )


# --- one attempt (the sender) ------------------------------------------------------------------


def attempt(account: str, event_id: str) -> int | None:
    """Send the delivery once, to the webhook's URL as it is now, checked again now; record
    the attempt. None when it is done (delivered, failed for good, or nothing to send); else
    the seconds to wait before the next attempt."""
    found = webhook_items.get_delivery(account, event_id)
    settings_now = webhook_items.get_settings(account)
    if found is None or found.get("status") in (DELIVERED, FAILED):
        return None
    tries = int(found.get("attempts") or 0) + 1
    now = clock.now_ms()
    if settings_now is None or not settings_now.get("enabled"):
        outcome = delivery.Attempt(False, None, "webhook disabled")
    else:
        try:
            target = _target(str(settings_now["url"]))
        except targets.UnsafeTarget as unsafe:
            outcome = delivery.Attempt(False, None, f"refused target: {unsafe.reason}")
        else:
            body = str(found["body"]).encode()
            outcome = delivery.send(
                target, event_id, body, str(settings_now["secret"]), now=now // 1000
            )
    done = outcome.ok or tries >= delivery.ATTEMPTS
    status = DELIVERED if outcome.ok else (FAILED if done else RETRYING)
    webhook_items.update_delivery(
        account,
        event_id,
        {
            "status": status,
            "attempts": tries,
            "lastStatus": outcome.status or 0,  # 0: no answer
            "lastError": outcome.error,
            "lastAttemptTs": now,
        },
    )
    return None if done else delivery.retry_delay(tries)


# --- the log ------------------------------------------------------------------------------------


def list_deliveries(account: str, query: PageQuery) -> Page[DeliveryView]:
    scope = f"deliveries|{account}"
    before = None
    if query.cursor is not None:
        (before,) = cursors.decode(cursors.secret(account), scope, query.cursor, 1)
    items, more = webhook_items.deliveries(account, limit=query.limit, before=before)
    last = str(items[-1]["id"]) if items and more else None
    return {
        "items": [_view(item) for item in items],
        "cursor": cursors.encode(cursors.secret(account), scope, [last]) if last else None,
    }


def redeliver(account: str, request: "RedeliverRequest") -> str:
    """Send a delivery again from the first attempt, once it is done (delivered, or failed for
    good); one still being tried is left to its attempts (one retry chain per delivery)."""
    changes = {"status": PENDING, "attempts": 0, "lastError": ""}
    if webhook_items.update_delivery(account, request.id, changes, only_if=(DELIVERED, FAILED)):
        queue.enqueue(account, request.id)
    elif webhook_items.get_delivery(account, request.id) is None:
        raise CouponError(ErrorCode.DELIVERY_NOT_FOUND)
    return request.id


def _view(item: Mapping[str, Any]) -> DeliveryView:
    last = item.get("lastAttemptTs")
    status = item.get("lastStatus")
    return {
        "id": str(item["id"]),
        "type": str(item["type"]),
        "cpnNo": str(item["cpnNo"]),
        "status": str(item["status"]),
        "attempts": int(item.get("attempts") or 0),
        "lastStatus": int(status) if status else None,
        "lastError": str(item.get("lastError") or ""),
        "createdYmdt": local_time(int(item["createdTs"])),
        "lastAttemptYmdt": "" if last is None else local_time(int(last)),
    }


# --- the two functions that are not HTTP routes --------------------------------------------------


def on_stream(event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The events function: a batch of the table's stream records. A record that fails is
    reported (with every one after it, which Lambda sends again from there), so nothing is
    skipped; records handled again make no second delivery (their events' ids have one)."""
    from coupons.observability import logger

    records = list(event.get("Records") or [])
    enabled: dict[str, bool] = {}  # each account's webhook read once a batch
    for position, record in enumerate(records):
        try:
            record_events([record], enabled)
        except Exception:
            logger.exception("stream record failed")
            return {
                "batchItemFailures": [
                    {"itemIdentifier": str(r["dynamodb"]["SequenceNumber"])}
                    for r in records[position:]
                ]
            }
    return {"batchItemFailures": []}


def on_queue(event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The sender: a batch of queued deliveries, each attempted once. One to try again later
    stays on the queue, made visible again after its backoff; a done one is removed."""
    import json

    from coupons.observability import logger

    later: list[dict[str, str]] = []
    for message in event.get("Records") or []:
        try:
            wanted = json.loads(message["body"])
            delay = attempt(str(wanted["account"]), str(wanted["id"]))
            if delay is not None:
                queue.wait(str(message["receiptHandle"]), delay)
                later.append({"itemIdentifier": str(message["messageId"])})
        except Exception:
            logger.exception("delivery failed")
            later.append({"itemIdentifier": str(message["messageId"])})
    return {"batchItemFailures": later}
