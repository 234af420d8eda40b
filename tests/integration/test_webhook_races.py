"""Webhooks under concurrent redemptions (DESIGN 2.9), on DynamoDB Local's stream with make
dev's pipeline: each committed redemption is one event with an id of its own, delivered at
least once; a replayed delivery keeps its id. And how long a delivery takes locally, from the
commit to the receiver (printed and written to test-artifacts/webhook-latency.txt, not
asserted)."""

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.webhooks import LocalWebhooks
from tests.conftest import Api
from tests.integration.conftest import in_parallel
from tests.integration.test_webhooks import Receiver, register, wait_for, webhooked

THREADS = 50
LATENCY_EVENTS = 100
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "webhook-latency.txt"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


def test_concurrent_redemptions_are_as_many_distinct_events(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    register(api, receiver)
    webhooked(api, "RACEHOOK1", useLimit=0)  # unlimited: every one of them goes through
    answers = in_parallel([lambda: api.redeem("RACEHOOK1", amount=20)] * THREADS)
    assert [a.code for a in answers] == [0] * THREADS, [a.body for a in answers if a.code]
    rdm_ids = {a.result["rdmId"] for a in answers}
    assert len(rdm_ids) == THREADS

    def distinct() -> set[str]:
        return {a.event_id for a in receiver.about("RACEHOOK1")}

    wait_for(lambda: len(distinct()) >= THREADS, deadline_s=60)
    time.sleep(1.0)  # nothing more comes
    got = receiver.about("RACEHOOK1")
    assert len(distinct()) == THREADS
    assert {a.event["type"] for a in got} == {"coupon.redeemed"}
    assert {a.event["data"]["redemption"]["rdmId"] for a in got} == rdm_ids
    # One id per redemption: a delivery sent twice (at least once) keeps its id.
    per_redemption: dict[str, set[str]] = {}
    for arrival in got:
        per_redemption.setdefault(arrival.event["data"]["redemption"]["rdmId"], set()).add(
            arrival.event_id
        )
    assert all(len(ids) == 1 for ids in per_redemption.values())
    assert all(a.signed and a.event_id == a.event["id"] for a in got)
    repeats = Counter(a.event_id for a in got)
    print(f"\n{THREADS} concurrent redemptions: {len(got)} deliveries, {len(repeats)} ids")
    assert local_webhooks.counters.errors == []


def test_delivery_latency_from_commit_to_receiver(
    api: Api, receiver: Receiver, local_webhooks: LocalWebhooks
) -> None:
    """Redemptions one after another; for each, the time from its answer (the change is
    committed by then) to its delivery's arrival. Printed (``-s``) and written to
    test-artifacts/webhook-latency.txt; not asserted (a busy machine is slower)."""
    register(api, receiver)
    webhooked(api, "LATENCYHOOK", useLimit=0)
    answered: dict[str, float] = {}
    for _ in range(LATENCY_EVENTS):
        answer = api.redeem("LATENCYHOOK", amount=20)
        assert answer.code == 0, answer.body
        answered[answer.result["rdmId"]] = time.time()
        time.sleep(0.02)  # a steady trickle, not one burst
    wait_for(lambda: len(receiver.about("LATENCYHOOK")) >= LATENCY_EVENTS, deadline_s=60)
    first_arrival: dict[str, float] = {}
    for arrival in receiver.about("LATENCYHOOK"):
        rdm_id = arrival.event["data"]["redemption"]["rdmId"]
        first_arrival.setdefault(rdm_id, arrival.at)
    latencies = sorted((first_arrival[r] - answered[r]) * 1000 for r in answered)
    report = (
        f"webhook delivery latency, redeem answered -> receiver, {len(latencies)} events "
        f"(make dev's pipeline: DynamoDB Local stream polled every "
        f"{local_webhooks.poll_s * 1000:.0f} ms, moto SQS, {local_webhooks.senders} senders): "
        f"median {statistics.median(latencies):.0f} ms, p90 "
        f"{latencies[int(len(latencies) * 0.9) - 1]:.0f} ms, worst {latencies[-1]:.0f} ms, "
        f"best {latencies[0]:.0f} ms"
    )
    print("\n" + report)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(report + "\n", encoding="utf-8")
