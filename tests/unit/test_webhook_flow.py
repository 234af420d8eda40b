"""Webhooks end to end on moto (DynamoDB and SQS) and a real receiver on 127.0.0.1 (DESIGN
2.9): the account's settings through their routes, a committed change read from the stream
(as the events function gets it) turned into one queued delivery, the sender's attempts, the
delivery log and redelivery."""

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import botocore.session
import pytest

from coupons import settings
from coupons.service import webhooks as service
from coupons.webhooks import signing
from tests.conftest import Api
from tests.unit.test_webhooks import Receiver, _raw, _record


@pytest.fixture
def queue_url(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A queue on moto's SQS, and settings that name it and allow a receiver on 127.0.0.1
    (as make dev's stack does)."""
    sqs: Any = botocore.session.get_session().create_client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    configured = replace(settings.current(), webhook_queue_url=url, webhook_allow_local=True)
    monkeypatch.setattr(settings, "current", lambda: configured)
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver("")
    yield found
    found.server.shutdown()
    found.server.server_close()


def _set(api: Api, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    body = {"url": f"http://127.0.0.1:{receiver.port}/hooks", "enabled": True, **fields}
    answer = api.call("PUT", "/webhook", body=body)
    assert answer.code == 0, answer.body
    if answer.result["secret"]:
        receiver.secret = answer.result["secret"]
    return dict(answer.result)


def _stream(records: list[dict[str, Any]]) -> dict[str, Any]:
    for number, record in enumerate(records):
        record["dynamodb"]["SequenceNumber"] = str(number)
    return service.on_stream({"Records": records})


def _committed(api: Api, code: str, act: Any) -> dict[str, Any]:
    before = _raw(api, code)
    act()
    after = _raw(api, code)
    return _record("REMOVE" if after is None else "MODIFY", before, after)


def _messages(queue_url: str) -> list[dict[str, Any]]:
    sqs: Any = botocore.session.get_session().create_client("sqs", region_name="us-east-1")
    found = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [
        {"body": m["Body"], "receiptHandle": m["ReceiptHandle"], "messageId": m["MessageId"]}
        for m in found.get("Messages", [])
    ]


def _deliveries(api: Api) -> list[dict[str, Any]]:
    return list(api.call("GET", "/webhook/deliveries").result["items"])


def test_settings_show_the_secret_once(api: Api, queue_url: str, receiver: Receiver) -> None:
    assert api.call("GET", "/webhook").result is None
    created = _set(api, receiver)
    assert created["secret"].startswith("whsec_")
    again = _set(api, receiver, enabled=False)
    assert again["secret"] is None and again["enabled"] is False
    shown = api.call("GET", "/webhook").result
    assert shown["url"].endswith("/hooks") and shown["enabled"] is False
    assert "secret" not in shown
    rotated = api.call("POST", "/webhook/rotate-secret").result["secret"]
    assert rotated.startswith("whsec_") and rotated != created["secret"]


def test_a_webhook_goes_only_to_a_public_https_address(
    api: Api, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = replace(settings.current(), webhook_allow_local=False)
    monkeypatch.setattr(settings, "current", lambda: strict)
    for url in ("http://127.0.0.1:9/hooks", "https://127.0.0.1/hooks", "https://10.0.0.1/x",
                "https://169.254.169.254/latest", "https://[::1]/x", "ftp://example.com"):  # fmt: skip
        answer = api.call("PUT", "/webhook", body={"url": url})
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "url"), url
    assert api.call("GET", "/webhook").result is None
    assert api.call("POST", "/webhook/rotate-secret").code == 4044


def test_a_redemption_is_delivered_once_signed(
    api: Api, queue_url: str, receiver: Receiver
) -> None:
    _set(api, receiver)
    code = api.create(useLimit=1, webhookEnableYn="Y").result
    record = _committed(api, code, lambda: api.redeem(code))
    assert _stream([record]) == {"batchItemFailures": []}
    assert _stream([json.loads(json.dumps(record))]) == {"batchItemFailures": []}  # seen again
    messages = _messages(queue_url)
    assert len(messages) == 2
    assert service.on_queue({"Records": messages}) == {"batchItemFailures": []}
    kinds = {json.loads(_body)["type"] for _body in receiver.bodies}
    assert kinds == {"coupon.redeemed", "coupon.used_up"}
    assert all(valid for _, valid in receiver.seen)
    log = _deliveries(api)
    assert [(d["status"], d["attempts"], d["lastStatus"]) for d in log] == [
        ("DELIVERED", 1, 200)
    ] * 2


def test_a_failing_receiver_is_retried_then_marked(
    api: Api, queue_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(api, receiver)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    _stream([_committed(api, code, lambda: api.redeem(code))])
    receiver.behaviour = "error"
    [message] = _messages(queue_url)
    assert service.on_queue({"Records": [message]}) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }  # stays on the queue, visible again after its backoff
    [shown] = _deliveries(api)
    assert (shown["status"], shown["attempts"], shown["lastStatus"]) == ("RETRYING", 1, 500)
    from coupons.webhooks import delivery

    monkeypatch.setattr(delivery, "ATTEMPTS", 2)  # the last attempt, sooner
    assert service.on_queue({"Records": [message]}) == {"batchItemFailures": []}
    [shown] = _deliveries(api)
    assert (shown["status"], shown["attempts"]) == ("FAILED", 2)
    # Redelivered by hand once the receiver is fixed.
    receiver.behaviour = "ok"
    assert api.call("POST", "/webhook/redeliver", body={"id": shown["id"]}).result == shown["id"]
    assert service.on_queue({"Records": _messages(queue_url)}) == {"batchItemFailures": []}
    [shown] = _deliveries(api)
    assert (shown["status"], shown["attempts"], shown["lastStatus"]) == ("DELIVERED", 1, 200)
    assert len(receiver.seen) == 3
    assert len({event_id for event_id, _ in receiver.seen}) == 1


def test_nothing_is_delivered_when_the_webhook_is_off(
    api: Api, queue_url: str, receiver: Receiver
) -> None:
    _set(api, receiver, enabled=False)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    _stream([_committed(api, code, lambda: api.redeem(code))])
    assert _messages(queue_url) == [] and _deliveries(api) == []


def test_deliveries_are_the_accounts_own(
    api: Api, other_api: Api, queue_url: str, receiver: Receiver
) -> None:
    _set(api, receiver)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    _stream([_committed(api, code, lambda: api.redeem(code))])
    [mine] = _deliveries(api)
    assert _deliveries(other_api) == []
    answer = other_api.call("POST", "/webhook/redeliver", body={"id": mine["id"]})
    assert (answer.status, answer.code) == (404, 4045)


def test_a_rotated_secret_signs_the_next_attempt(
    api: Api, queue_url: str, receiver: Receiver
) -> None:
    _set(api, receiver)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    _stream([_committed(api, code, lambda: api.redeem(code))])
    receiver.secret = api.call("POST", "/webhook/rotate-secret").result["secret"]
    service.on_queue({"Records": _messages(queue_url)})
    assert receiver.seen and all(valid for _, valid in receiver.seen)
    assert signing.verify(
        receiver.secret, receiver.headers[-1], receiver.bodies[-1].encode(), now=int(time.time())
    )


def test_a_delivery_the_queue_refused_is_queued_when_its_record_comes_again(
    api: Api, queue_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded, then the queue refused it: the record is taken back and the stream record
    fails, so Lambda sends it again, and this time the delivery is recorded and queued (one
    retry chain: never recorded but not queued, never queued twice)."""
    from coupons.webhooks import queue

    _set(api, receiver)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    record = _committed(api, code, lambda: api.redeem(code))
    real = queue.enqueue

    def refused(*args: Any) -> None:
        raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(queue, "enqueue", refused)
    assert _stream([record]) == {"batchItemFailures": [{"itemIdentifier": "0"}]}
    assert _deliveries(api) == []  # taken back
    monkeypatch.setattr(queue, "enqueue", real)
    assert _stream([json.loads(json.dumps(record))]) == {"batchItemFailures": []}
    assert _stream([json.loads(json.dumps(record))]) == {"batchItemFailures": []}  # once more
    messages = _messages(queue_url)
    assert len(messages) == 1
    assert service.on_queue({"Records": messages}) == {"batchItemFailures": []}
    assert [d["status"] for d in _deliveries(api)] == ["DELIVERED"]
    assert len(receiver.seen) == 1


def test_redeliver_waits_for_a_delivery_still_being_tried(
    api: Api, queue_url: str, receiver: Receiver
) -> None:
    _set(api, receiver)
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    _stream([_committed(api, code, lambda: api.redeem(code))])
    [pending] = _deliveries(api)
    assert api.call("POST", "/webhook/redeliver", body={"id": pending["id"]}).code == 0
    assert len(_messages(queue_url)) == 1  # not a second chain while the first is queued
