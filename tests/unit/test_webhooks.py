"""Webhooks' core (DESIGN 2.9): events derived from the items our writes commit, their
signature, where they may be sent, and one delivery attempt against a real HTTP receiver on
127.0.0.1 that fails on purpose."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coupons.store.client import request
from coupons.store.keys import coupon_key, redemption_key
from coupons.webhooks import delivery, events, signing, targets
from tests.conftest import Api, account_of

# --- events from committed changes -----------------------------------------------------------


def _raw(api: Api, code: str, rdm_id: str = "") -> dict[str, Any] | None:
    """The item as DynamoDB holds it (attribute values), as a stream record carries it."""
    account = account_of(api)
    key = redemption_key(account, code, rdm_id) if rdm_id else coupon_key(account, code)
    item = request(lambda db, table: db.get_item(TableName=table, Key=key, ConsistentRead=True))
    return item.get("Item")


def _record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    image = new or old
    assert image is not None
    change: dict[str, Any] = {
        "Keys": {"PK": image["PK"], "SK": image["SK"]},
        "ApproximateCreationDateTime": 1_790_000_000.0,
    }
    if old is not None:
        change["OldImage"] = old
    if new is not None:
        change["NewImage"] = new
    return {"eventName": name, "dynamodb": change}


def _change(api: Api, code: str, act: Any) -> list[events.Event]:
    before = _raw(api, code)
    act()
    after = _raw(api, code)
    name = "REMOVE" if after is None else "MODIFY"
    return events.from_record(_record(name, before, after))


def test_a_redemption_is_one_event_and_the_last_use_another(api: Api) -> None:
    code = api.create(
        useLimit=0, totalLimit=2, webhookEnableYn="Y", onsiteYn="Y", onsitePwd="1234"
    ).result
    first = _change(api, code, lambda: api.redeem(code, onsitePwd="1234"))
    assert [e.type for e in first] == ["coupon.redeemed"]
    last = _change(api, code, lambda: api.redeem(code, onsitePwd="1234"))
    assert [e.type for e in last] == ["coupon.redeemed", "coupon.used_up"]
    body = json.loads(last[0].body())
    assert set(body) == {"id", "type", "created", "data"}
    assert body["data"]["coupon"]["cpnNo"] == code and body["data"]["coupon"]["useCnt"] == 2
    assert body["data"]["redemption"]["status"] == "REDEEMED"
    assert body["data"]["coupon"]["onsitePwd"] == ""  # the coupon object's: never the password
    for secret in ("pageKey", "rdm", "pwdFailTs", "pwdLockedUntil"):
        assert secret not in body["data"]["coupon"]
    # The same committed change read twice gives the same ids: one delivery per id.
    assert len({e.id for e in first + last}) == 3


def test_a_refused_redemption_commits_nothing_and_emits_nothing(api: Api) -> None:
    code = api.create(useLimit=1, webhookEnableYn="Y").result
    api.redeem(code)
    assert _change(api, code, lambda: api.redeem(code)) == []  # 4222: the item is unchanged


def test_a_replayed_redemption_emits_nothing(api: Api) -> None:
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    keyed = api.with_key("order-1")
    assert len(_change(api, code, lambda: keyed.redeem(code))) == 1
    assert _change(api, code, lambda: keyed.redeem(code)) == []


def test_a_cancellation_is_an_event(api: Api) -> None:
    code = api.create(useLimit=0, webhookEnableYn="Y").result
    rdm_id = api.redeem(code).result["rdmId"]
    cancelled = _change(api, code, lambda: api.cancel(code, rdm_id))
    assert [(e.type, e.redemption and e.redemption["rdmId"]) for e in cancelled] == [
        ("coupon.redemption_cancelled", rdm_id)
    ]


def test_a_cancellation_of_a_record_moved_out_is_an_event(api: Api) -> None:
    from coupons.store.redemptions import MOST_INLINE

    code = api.create(useLimit=0, webhookEnableYn="Y").result
    first = api.redeem(code).result["rdmId"]
    for _ in range(MOST_INLINE + 1):  # the first record moves to an item of its own
        api.redeem(code)
    before = _raw(api, code, first)
    assert before is not None, "the record did not move out"
    api.cancel(code, first)
    found = events.from_record(_record("MODIFY", before, _raw(api, code, first)))
    assert [(e.type, e.redemption and e.redemption["rdmId"]) for e in found] == [
        ("coupon.redemption_cancelled", first)
    ]


def test_a_deletion_is_an_event(api: Api) -> None:
    code = api.create(webhookEnableYn="Y").result
    deleted = _change(api, code, lambda: api.delete(code))
    assert [e.type for e in deleted] == ["coupon.deleted"]
    assert deleted[0].coupon["cpnNo"] == code


def test_coupons_without_webhooks_emit_nothing(api: Api) -> None:
    code = api.create(useLimit=1).result  # webhookEnableYn N
    assert _change(api, code, lambda: api.redeem(code)) == []
    assert _change(api, code, lambda: api.delete(code)) == []


def test_other_items_emit_nothing() -> None:
    for pk, sk in (("KEY#abc", "KEY"), ("A#acct_1#TMPL", "T#0000000001"), ("A#acct_1#RATE", "1")):
        record = _record(
            "MODIFY", {"PK": {"S": pk}, "SK": {"S": sk}}, {"PK": {"S": pk}, "SK": {"S": sk}}
        )
        assert events.from_record(record) == []


# --- signatures ------------------------------------------------------------------------------


def test_signature_over_the_exact_bytes() -> None:
    secret = signing.new_secret()
    body = b'{"id":"evt_1"}'
    header = signing.signature(secret, 1_790_000_000, body)
    assert header.startswith("t=1790000000,v1=")
    assert signing.verify(secret, header, body, now=1_790_000_100)
    assert not signing.verify(secret, header, body + b" ", now=1_790_000_100)  # other bytes
    assert not signing.verify(signing.new_secret(), header, body, now=1_790_000_100)
    assert not signing.verify(secret, header, body, now=1_790_001_000)  # too old: a replay
    assert not signing.verify(secret, "v1=abc", body, now=1_790_000_000)


# --- where a webhook may go ------------------------------------------------------------------


def _resolving_to(*addresses: str) -> targets.Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:10.0.0.1", "224.0.0.1",
        "::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "::ffff:0:7f00:1",
    ],
)  # fmt: skip
def test_a_name_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(targets.UnsafeTarget) as refused:
        targets.checked("https://hooks.example.com/in", resolver=_resolving_to(address))
    assert refused.value.reason == "NOT_PUBLIC"
    # One private address among public ones is enough to refuse it.
    with pytest.raises(targets.UnsafeTarget):
        targets.checked("https://h.example.com", resolver=_resolving_to("93.184.215.14", address))


def test_ipv4_is_tried_first() -> None:
    # A function outside a VPC has no IPv6 route out: "2600:..." must not win over "52...".
    found = targets.checked(
        "https://hooks.example.com", resolver=lambda h, p: ["2600:1f18::1", "52.94.1.2"]
    )
    assert found.address == "52.94.1.2"


def test_a_public_https_target_is_pinned_to_its_checked_address() -> None:
    found = targets.checked(
        "https://hooks.example.com:8443/in?x=1", resolver=_resolving_to("93.184.215.14")
    )
    assert found == targets.Target("https", "hooks.example.com", 8443, "/in?x=1", "93.184.215.14")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/in", "NOT_HTTPS"),
        ("ftp://hooks.example.com/in", "NOT_HTTPS"),
        ("https://user:pw@hooks.example.com/in", "CREDENTIALS"),
        ("https:///in", "NOT_A_URL"),
        ("https://hooks.example.com:99999/", "NOT_A_URL"),
        ("http://127.0.0.1:8000/in", "NOT_HTTPS"),  # the dev exception is off
        ("https://" + "a" * 2050, "TOO_LONG"),
    ],
)
def test_only_https_urls_without_credentials(url: str, reason: str) -> None:
    with pytest.raises(targets.UnsafeTarget) as refused:
        targets.checked(url, resolver=_resolving_to("93.184.215.14"))
    assert refused.value.reason == reason


def test_the_local_development_exception_is_only_loopback() -> None:
    local = targets.checked("http://127.0.0.1:8000/in", allow_local=True)
    assert (local.scheme, local.address, local.port) == ("http", "127.0.0.1", 8000)
    with pytest.raises(targets.UnsafeTarget):
        targets.checked("http://10.0.0.1/in", allow_local=True)
    with pytest.raises(targets.UnsafeTarget):  # a public name is still https only
        targets.checked("http://hooks.example.com/in", allow_local=True)


# --- one delivery attempt against a real receiver ---------------------------------------------


class Receiver:
    """An HTTP receiver on 127.0.0.1 that checks signatures and fails on purpose."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.behaviour = "ok"  # ok, error, slow, redirect, huge
        self.seen: list[tuple[str, bool]] = []  # (event id, signature valid)
        self.bodies: list[str] = []
        self.headers: list[str] = []  # Coupon-Signature
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = signing.verify(
                    outer.secret, self.headers["Coupon-Signature"], body, now=int(time.time())
                )
                outer.seen.append((self.headers["Coupon-Event-Id"], valid))
                outer.bodies.append(body.decode())
                outer.headers.append(self.headers["Coupon-Signature"])
                if outer.behaviour == "slow":
                    time.sleep(1.0)
                if outer.behaviour == "drip":  # an answer a line at a time, never done
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for n in range(20):
                        with contextlib.suppress(OSError):
                            self.wfile.write(f"X-Drip-{n}: 1\r\n".encode())
                            self.wfile.flush()
                        time.sleep(0.1)
                    return
                status = {"ok": 200, "error": 500, "redirect": 302, "huge": 200, "slow": 200}
                self.send_response(status[outer.behaviour])
                if outer.behaviour == "redirect":
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                if outer.behaviour == "huge":
                    with contextlib.suppress(OSError):  # the sender stopped reading: good
                        self.wfile.write(b"x" * 1_000_000)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def target(self) -> targets.Target:
        return targets.checked(f"http://127.0.0.1:{self.port}/hooks", allow_local=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(signing.new_secret())
    yield found
    found.server.shutdown()
    found.server.server_close()


def _send(receiver: Receiver, event_id: str = "evt_1") -> delivery.Attempt:
    return delivery.send(
        receiver.target(), event_id, b'{"id":"evt_1"}', receiver.secret, now=int(time.time())
    )


def test_a_delivery_the_receiver_accepts(receiver: Receiver) -> None:
    assert _send(receiver) == delivery.Attempt(True, 200, "")
    assert receiver.seen == [("evt_1", True)]  # signed over the bytes it received


@pytest.mark.parametrize(
    ("behaviour", "status", "error"),
    [("error", 500, "status"), ("redirect", 302, "redirect not followed")],
)
def test_failures_the_receiver_answers(
    receiver: Receiver, behaviour: str, status: int, error: str
) -> None:
    receiver.behaviour = behaviour
    assert _send(receiver) == delivery.Attempt(False, status, error)
    assert len(receiver.seen) == 1  # the redirect is not followed


def test_a_receiver_that_does_not_answer_in_time(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "TIMEOUT_S", 0.3)  # 5 s deployed
    receiver.behaviour = "slow"
    started = time.monotonic()
    assert _send(receiver) == delivery.Attempt(False, None, "timed out")
    assert time.monotonic() - started < 1.0


def test_a_receiver_dribbling_its_answer_is_cut_off(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read gets a byte before its timeout; the attempt as a whole still ends on time."""
    monkeypatch.setattr(delivery, "TIMEOUT_S", 0.5)
    receiver.behaviour = "drip"
    started = time.monotonic()
    assert _send(receiver) == delivery.Attempt(False, None, "timed out")
    assert time.monotonic() - started < 1.0


def test_a_huge_answer_is_not_read_whole(receiver: Receiver) -> None:
    receiver.behaviour = "huge"
    assert _send(receiver).ok


def test_a_refused_connection(receiver: Receiver) -> None:
    target = receiver.target()
    receiver.server.shutdown()
    receiver.server.server_close()
    attempt = delivery.send(target, "evt_1", b"{}", receiver.secret, now=int(time.time()))
    assert (attempt.ok, attempt.status, attempt.error) == (False, None, "ConnectionRefusedError")


def test_retries_span_at_least_a_day() -> None:
    import random

    low = random.Random(1)
    low.uniform = lambda a, b: a  # type: ignore[method-assign]  # every delay at its shortest
    delays = [delivery.retry_delay(n, low) for n in range(1, delivery.ATTEMPTS)]
    assert delays[0] == 27 and delays == sorted(delays)
    assert sum(delays) >= 24 * 3600
    assert max(delays) <= delivery.MAX_DELAY_S
