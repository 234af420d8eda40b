"""Webhooks delivered as make dev delivers them (DESIGN 2.9): changes committed on DynamoDB
Local, read from its stream into the events function, queued on a local SQS (moto), sent by
the sender to a real receiver on 127.0.0.1 that checks every signature and fails on purpose
(500s, an answer too slow, a refused connection).

Retries are made short in this process: ``delivery.FIRST_DELAY_S`` is 0, so each retry comes
back after ``retry_delay``'s floor of 1 s instead of 30 s doubling; ``delivery.TIMEOUT_S`` is
0.5 s instead of 5 s."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coupons.webhooks import delivery, signing
from devstack.webhooks import LocalWebhooks
from tests.conftest import Api

DEADLINE_S = 20.0
SLOW_ANSWER_S = 1.5  # the receiver's answer when it is "too slow" (TIMEOUT_S is 0.5 here)


@dataclass
class Arrival:
    """One request the receiver got."""

    event_id: str  # the Coupon-Event-Id header
    event: dict[str, Any]  # the body
    signed: bool  # the signature checks out with the account's secret, now
    answered: int  # what the receiver answered (0: it was too slow on purpose)
    at: float  # time.time() when it arrived


class Receiver:
    """A webhook receiver on 127.0.0.1. ``fail[cpnNo]``: how to answer the next requests
    about that coupon (an HTTP status, or "slow"); 200 once they are used up."""

    def __init__(self, port: int = 0) -> None:
        self.secret = ""
        self.fail: dict[str, list[int | str]] = {}
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrived(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def arrived(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        at = time.time()
        event = json.loads(body)
        signed = signing.verify(
            self.secret, request.headers.get("Coupon-Signature", ""), body, now=int(at)
        )
        with self.lock:
            planned = self.fail.get(event["data"]["coupon"]["cpnNo"]) or [200]
            answer = planned.pop(0) if len(planned) > 1 or planned != [200] else 200
        if answer == "slow":
            time.sleep(SLOW_ANSWER_S)  # the sender has given up by now
        status = 200 if answer == "slow" else int(answer)
        with self.lock:
            self.arrivals.append(
                Arrival(
                    request.headers.get("Coupon-Event-Id", ""),
                    event,
                    signed,
                    0 if answer == "slow" else status,
                    at,
                )
            )
        try:
            request.send_response(status)
            request.send_header("Content-Length", "2")
            request.end_headers()
            request.wfile.write(b"ok")
        except OSError:
            pass  # the sender hung up (too slow)

    def about(self, cpn_no: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.event["data"]["coupon"]["cpnNo"] == cpn_no]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture(autouse=True)
def _short_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_DELAY_S", 0)  # retry_delay: 1 s each time
    monkeypatch.setattr(delivery, "TIMEOUT_S", 0.5)


def register(api: Api, receiver: Receiver) -> None:
    answer = api.call("PUT", "/webhook", body={"url": receiver.url, "enabled": True})
    assert answer.code == 0, answer.body
    assert answer.result["secret"], answer.body
    receiver.secret = answer.result["secret"]


def wait_for(what: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
    """Poll until ``what()`` is truthy; its value."""
    until = time.monotonic() + deadline_s
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.05)


def deliveries(api: Api) -> list[dict[str, Any]]:
    answer = api.call("GET", "/webhook/deliveries", query={"limit": "100"})
    assert answer.code == 0, answer.body
    return list(answer.result["items"])


def delivery_of(api: Api, event_id: str) -> dict[str, Any] | None:
    return next((d for d in deliveries(api) if d["id"] == event_id), None)


def webhooked(api: Api, code: str, **fields: Any) -> None:
    made = api.create(cpnNo=code, webhookEnableYn="Y", **fields)
    assert made.code == 0, made.body


def redeemed(api: Api, code: str, **fields: Any) -> str:
    answer = api.redeem(code, amount=20, **fields)
    assert answer.code == 0, answer.body
    return str(answer.result["rdmId"])


def types(arrivals: list[Arrival]) -> list[str]:
    return [a.event["type"] for a in arrivals]


def test_a_redemption_arrives_signed_and_the_last_use_also_as_used_up(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKTWICE", useLimit=2, userId="user-1")
    first = redeemed(api, "HOOKTWICE", userId="user-1")
    wait_for(lambda: receiver.about("HOOKTWICE"))
    second = redeemed(api, "HOOKTWICE", userId="user-1")
    got = wait_for(lambda: len(receiver.about("HOOKTWICE")) >= 3 and receiver.about("HOOKTWICE"))

    assert all(a.signed for a in got)
    assert all(a.event_id == a.event["id"] for a in got)
    assert sorted(types(got)) == ["coupon.redeemed", "coupon.redeemed", "coupon.used_up"]
    by_type = {(a.event["type"], a.event["data"]["redemption"]["rdmId"]) for a in got}
    assert by_type == {
        ("coupon.redeemed", first),
        ("coupon.redeemed", second),
        ("coupon.used_up", second),
    }
    assert len({a.event_id for a in got}) == 3
    coupon = got[0].event["data"]["coupon"]
    assert coupon["cpnNo"] == "HOOKTWICE"
    assert coupon["onsitePwd"] == "" and not {"pageKey", "pwdFailTs", "rdm"} & set(coupon)
    assert local_webhooks.counters.errors == []


def test_a_cancellation_and_a_deletion(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKCANCEL", useLimit=0)
    rdm_id = redeemed(api, "HOOKCANCEL")
    cancelled = api.cancel("HOOKCANCEL", rdm_id)
    assert cancelled.code == 0, cancelled.body
    assert api.delete("HOOKCANCEL").code == 0
    got = wait_for(lambda: len(receiver.about("HOOKCANCEL")) >= 3 and receiver.about("HOOKCANCEL"))

    assert sorted(types(got)) == [
        "coupon.deleted",
        "coupon.redeemed",
        "coupon.redemption_cancelled",
    ]
    assert all(a.signed and a.event_id == a.event["id"] for a in got)
    cancel = next(a for a in got if a.event["type"] == "coupon.redemption_cancelled")
    assert cancel.event["data"]["redemption"]["rdmId"] == rdm_id
    assert (
        "redemption"
        not in next(a for a in got if a.event["type"] == "coupon.deleted").event["data"]
    )


def test_a_refused_redemption_and_a_replay_emit_nothing(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKONCE", useLimit=1)
    made = api.create(cpnNo="HOOKNONE", useLimit=0)  # webhookEnableYn N
    assert made.code == 0, made.body
    keyed = api.with_key("order-1")
    first = keyed.redeem("HOOKONCE", amount=20)
    assert first.code == 0, first.body
    replay = keyed.redeem("HOOKONCE", amount=20)
    assert replay.body == first.body  # the stored answer, nothing committed
    refused = api.redeem("HOOKONCE", amount=20)
    assert refused.code != 0
    redeemed(api, "HOOKNONE")
    # A change after all of them, on another coupon: once it is in, the earlier ones are too
    # (one shard, read in order; the sender's threads may swap two deliveries: a margin).
    webhooked(api, "HOOKMARK", useLimit=0)
    redeemed(api, "HOOKMARK")
    wait_for(lambda: receiver.about("HOOKMARK"))
    time.sleep(1.0)

    assert sorted(types(receiver.about("HOOKONCE"))) == ["coupon.redeemed", "coupon.used_up"]
    assert receiver.about("HOOKNONE") == []
    assert len(deliveries(api)) == 3
    assert {d["status"] for d in deliveries(api)} == {"DELIVERED"}


def test_500s_are_retried_until_delivered_while_others_go_through(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKFIVE", useLimit=0)
    webhooked(api, "HOOKFINE", useLimit=0)
    receiver.fail["HOOKFIVE"] = [500, 503, 500]
    redeemed(api, "HOOKFIVE")
    wait_for(lambda: receiver.about("HOOKFIVE"))
    redeemed(api, "HOOKFINE")  # while HOOK500's waits for its retries
    fine = wait_for(lambda: receiver.about("HOOKFINE"))
    assert [a.answered for a in fine] == [200]
    assert [a.answered for a in receiver.about("HOOKFIVE")][-1] != 200  # still failing

    got = wait_for(lambda: [a for a in receiver.about("HOOKFIVE") if a.answered == 200])
    tries = receiver.about("HOOKFIVE")
    assert [a.answered for a in tries] == [500, 503, 500, 200]
    assert len({a.event_id for a in tries}) == 1  # the same event each time
    assert all(a.signed for a in tries)  # signed again at each attempt
    record = wait_for(lambda: delivery_of(api, got[0].event_id))
    assert record["status"] == "DELIVERED"
    assert record["attempts"] == 4
    assert record["lastStatus"] == 200


def test_a_receiver_too_slow_is_retried(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKSLOW", useLimit=0)
    receiver.fail["HOOKSLOW"] = ["slow"]
    redeemed(api, "HOOKSLOW")
    first = wait_for(lambda: receiver.about("HOOKSLOW"))[0]
    retrying = wait_for(
        lambda: (d := delivery_of(api, first.event_id)) and d["attempts"] >= 1 and d
    )
    assert retrying["status"] in ("RETRYING", "DELIVERED")
    if retrying["status"] == "RETRYING":
        assert retrying["lastError"] == "timed out"
        assert retrying["lastStatus"] is None

    done = wait_for(
        lambda: (d := delivery_of(api, first.event_id)) and d["status"] == "DELIVERED" and d
    )
    assert done["attempts"] == 2
    tries = receiver.about("HOOKSLOW")
    # The receiver did get the first one (and answered, too late): at least once, one id.
    assert [a.answered for a in tries] == [0, 200]
    assert {a.event_id for a in tries} == {first.event_id}


def test_a_refused_connection_is_retried_until_the_receiver_is_back(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "HOOKDOWN", useLimit=0)
    receiver.stop()
    redeemed(api, "HOOKDOWN")
    retrying = wait_for(lambda: [d for d in deliveries(api) if d["attempts"] >= 2])
    assert retrying[0]["status"] == "RETRYING"
    assert retrying[0]["lastStatus"] is None
    assert retrying[0]["lastError"] == "ConnectionRefusedError"

    back = Receiver(receiver.port)
    back.secret = receiver.secret
    try:
        got = wait_for(lambda: back.about("HOOKDOWN"))
        assert got[0].signed and got[0].answered == 200
        done = wait_for(
            lambda: (d := delivery_of(api, got[0].event_id)) and d["status"] == "DELIVERED" and d
        )
        assert done["attempts"] >= 3
    finally:
        back.stop()
