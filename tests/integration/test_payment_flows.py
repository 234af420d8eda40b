"""Safe payment flows on the real engine (DynamoDB Local) through the local gateway, with real
threads: idempotent redeem/cancel/create under concurrent retries, cancel racing redeem,
cursor pagination of /redemptions and /list, bulk creation at its maximum, and a code's
history surviving delete and re-create (DESIGN.md 2.5)."""

import json
from collections import Counter
from functools import partial
from itertools import chain
from typing import Any

import pytest

from devstack.openapi import REDEMPTION
from tests.conftest import Api, Response
from tests.integration.conftest import in_parallel, redemption_records, stored_coupon

pytestmark = pytest.mark.integration

REPLAYED = "Idempotent-Replayed"


def header(response: Response, name: str) -> str | None:
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())


def replayed(response: Response) -> bool:
    return header(response, REPLAYED) == "true"


def canonical(response: Response) -> str:
    return json.dumps(response.body, sort_keys=True)


def statuses(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(record["status"]) for record in records)


def use_count(api: Api, code: str) -> int:
    coupon = stored_coupon(api, code)
    assert coupon is not None
    return int(coupon["useCnt"])


def pages(fetch: Any, limit: int) -> list[Response]:
    """Follow the cursors of a listing from its first page to the one whose cursor is null."""
    answers = [fetch(limit=str(limit))]
    while answers[-1].result["cursor"] is not None:
        assert len(answers) < 50, "the cursor never ends"
        answers.append(fetch(limit=str(limit), cursor=answers[-1].result["cursor"]))
    for answer in answers:
        assert (answer.status, answer.code) == (200, 0)
    return answers


def tampered(cursor: str) -> list[str]:
    """The cursor with one character of its position, then of its signature, changed."""
    position, _, tag = cursor.partition(".")

    def flip(text: str) -> str:
        return ("B" if text[0] == "A" else "A") + text[1:]

    return [f"{flip(position)}.{tag}", f"{position}.{flip(tag)}", position, cursor + "A"]


def walk_exists(start: int, ups: Counter[int], downs: Counter[int], end: int) -> bool:
    """Whether some order of the successful redemptions (+1, each answering the count after
    it, `ups`) and cancels (-1, `downs`) leads from `start` to `end`: the answers agree with
    one history of the counter."""
    if not ups and not downs:
        return start == end
    for steps, after in ((ups, start + 1), (downs, start - 1)):
        if steps[after]:
            rest = steps - Counter({after: 1})
            if walk_exists(
                after, rest if steps is ups else ups, rest if steps is downs else downs, end
            ):
                return True
    return False


def assert_invalid_cursor(answer: Response) -> None:
    assert (answer.status, answer.code, answer.result) == (400, 4001, None)
    assert "cursor" in answer.body["message"]


# --- 1. concurrent retries of one idempotent redeem --------------------------------------------


@pytest.mark.parametrize(
    ("terms", "redeem_fields"),
    [
        ({"useLimit": 5, "userId": "buyer"}, {"userId": "buyer"}),
        ({"useLimit": 0}, {}),
    ],
    ids=["five-uses", "unlimited"],
)
def test_12_concurrent_retries_of_one_idempotent_redeem_redeem_once(
    api: Api, terms: dict[str, Any], redeem_fields: dict[str, Any]
) -> None:
    code = api.create(**terms).result
    limit = terms["useLimit"]
    for round_ in range(3):
        retry = partial(
            api.with_key(f"payment-{round_}").redeem, code, memo=f"order {round_}", **redeem_fields
        )
        answers = in_parallel([retry] * 12, workers=12)
        assert [(a.status, a.code) for a in answers] == [(200, 0)] * 12
        assert len({canonical(a) for a in answers}) == 1, "every retry gets the same answer"
        assert sum(replayed(a) for a in answers) == 11
        result = answers[0].result
        assert result["useCnt"] == round_ + 1
        assert result["remaining"] == (None if limit == 0 else limit - round_ - 1)
        # Exactly one use was counted and one record written per payment.
        assert use_count(api, code) == round_ + 1
        records = redemption_records(api, code)
        assert len(records) == round_ + 1
        assert [r["memo"] for r in records if r["rdmId"] == result["rdmId"]] == [f"order {round_}"]
    # A later retry still replays; the same key with another body is refused and changes nothing.
    late = api.with_key("payment-0").redeem(code, memo="order 0", **redeem_fields)
    assert (late.status, late.code, late.result["useCnt"]) == (200, 0, 1)
    assert replayed(late)
    other = api.with_key("payment-0").redeem(code, memo="another order", **redeem_fields)
    assert (other.status, other.code, other.result) == (422, 4226, None)
    assert not replayed(other)
    assert use_count(api, code) == 3
    assert len(redemption_records(api, code)) == 3


def test_retries_of_an_idempotent_redeem_replay_after_the_coupon_is_used_up(api: Api) -> None:
    code = api.create(useLimit=1).result
    answers = in_parallel([partial(api.with_key("pay-a").redeem, code)] * 12, workers=12)
    assert len({canonical(a) for a in answers}) == 1
    assert answers[0].status == 200
    assert (answers[0].result["useCnt"], answers[0].result["remaining"]) == (1, 0)
    assert sum(replayed(a) for a in answers) == 11
    # Another payment is refused, and a refusal is not remembered ...
    refused = in_parallel([partial(api.with_key("pay-b").redeem, code)] * 6, workers=6)
    assert {(a.status, a.code, replayed(a)) for a in refused} == {(422, 4222, False)}
    # ... while the first payment's retries still get its answer.
    late = api.with_key("pay-a").redeem(code)
    assert canonical(late) == canonical(answers[0]) and replayed(late)
    assert len(redemption_records(api, code)) == 1


def test_idempotency_keys_are_scoped_per_account_and_route(api: Api, other_api: Api) -> None:
    mine = api.with_key("order-77").create(nm="mine")
    theirs = other_api.with_key("order-77").create(nm="theirs")
    assert mine.code == theirs.code == 0
    assert not replayed(mine) and not replayed(theirs)
    assert other_api.validate(mine.result).code == 4040
    bulk = api.with_key("order-77").create_bulk(2, nm="mine")
    assert bulk.code == 0 and not replayed(bulk) and mine.result not in bulk.result
    code = api.create(useLimit=0).result
    redeemed = api.with_key("order-77").redeem(code)
    assert redeemed.code == 0 and not replayed(redeemed)
    cancelled = api.with_key("order-77").cancel(code, redeemed.result["rdmId"])
    assert cancelled.code == 0 and not replayed(cancelled)
    assert {c["cpnNo"] for c in api.list().result["items"]} == {mine.result, *bulk.result, code}
    assert [c["cpnNo"] for c in other_api.list().result["items"]] == [theirs.result]


def test_concurrent_retries_of_one_idempotent_cancel_cancel_once(api: Api) -> None:
    code = api.create(useLimit=5, userId="buyer").result
    rdm_ids = [api.redeem(code, userId="buyer").result["rdmId"] for _ in range(3)]
    retry = partial(api.with_key("refund-1").cancel, code, rdm_ids[1], memo="payment failed")
    answers = in_parallel([retry] * 10, workers=10)
    assert [(a.status, a.code) for a in answers] == [(200, 0)] * 10
    assert len({canonical(a) for a in answers}) == 1
    assert sum(replayed(a) for a in answers) == 9
    assert answers[0].result == {"rdmId": rdm_ids[1], "useCnt": 2, "remaining": 3}
    assert use_count(api, code) == 2
    records = {r["rdmId"]: r for r in redemption_records(api, code)}
    assert [rdm for rdm in rdm_ids if records[rdm]["status"] == "CANCELLED"] == [rdm_ids[1]]
    assert records[rdm_ids[1]]["cancelMemo"] == "payment failed"


# --- 2. cancel racing redeem -------------------------------------------------------------------


def test_cancels_racing_redemptions_keep_the_count_equal_to_the_live_records(api: Api) -> None:
    """Each round: a 5-use coupon with 3 uses; then at once 3 cancels (each sent twice) and 8
    redemptions. Whatever the interleaving, the count is the number of REDEEMED records, and
    the counts answered (a limited coupon's answer is exact) fit one history of the counter."""
    for round_ in range(12):
        code = api.create(useLimit=5, userId="buyer").result
        first = [api.redeem(code, userId="buyer", memo=f"first {i}").result for i in range(3)]
        assert [r["useCnt"] for r in first] == [1, 2, 3]
        cancels = [partial(api.cancel, code, r["rdmId"]) for _ in range(2) for r in first]
        redeems = [partial(api.redeem, code, userId="buyer", memo=f"r{round_}") for _ in range(8)]
        # Interleaved: redeem, cancel, redeem, cancel, ..., redeem, redeem.
        calls = [*chain.from_iterable(zip(redeems, cancels, strict=False)), *redeems[6:]]
        answers = in_parallel(calls, workers=len(calls))
        cancel_answers = answers[1:12:2]
        redeem_answers = [*answers[0:12:2], *answers[12:]]

        # Each redemption was cancelled exactly once; its duplicate got 4227.
        for position, redemption in enumerate(first):
            pair = [cancel_answers[position], cancel_answers[position + 3]]
            assert sorted(a.code for a in pair) == [0, 4227]
            (ok,) = [a for a in pair if a.code == 0]
            assert ok.result["rdmId"] == redemption["rdmId"]
        for answer in cancel_answers:
            if answer.code == 0:
                assert answer.status == 200
                assert 0 <= answer.result["useCnt"] <= 4
                assert answer.result["remaining"] == 5 - answer.result["useCnt"]
            else:
                assert (answer.status, answer.result) == (422, None)

        # Redemptions: never more than the free uses, at least the 2 that were free throughout.
        assert {a.code for a in redeem_answers} <= {0, 4222}
        won = [a for a in redeem_answers if a.code == 0]
        assert 2 <= len(won) <= 5
        for answer in won:
            assert answer.status == 200
            assert 1 <= answer.result["useCnt"] <= 5
            assert answer.result["remaining"] == 5 - answer.result["useCnt"]

        # The counts answered fit one order of the successes, from 3 uses to the final count.
        ups = Counter(a.result["useCnt"] for a in won)
        downs = Counter(a.result["useCnt"] for a in cancel_answers if a.code == 0)
        assert walk_exists(3, ups, downs, len(won)), (ups, downs)

        records = redemption_records(api, code)
        assert statuses(records) == {"CANCELLED": 3, "REDEEMED": len(won)}
        live = {r["rdmId"] for r in records if r["status"] == "REDEEMED"}
        assert live == {a.result["rdmId"] for a in won}
        assert use_count(api, code) == len(won) <= 5
        validated = api.validate(code)
        if len(won) < 5:
            assert validated.result["useCnt"] == len(won)
        else:
            assert validated.code == 4222
        # The container's belief is corrected by the engine: the next use counts exactly.
        if len(won) < 5:
            assert api.redeem(code, userId="buyer").result["useCnt"] == len(won) + 1
            assert use_count(api, code) == len(won) + 1
            assert statuses(redemption_records(api, code))["REDEEMED"] == len(won) + 1


def test_cancels_racing_redemptions_of_an_unlimited_coupon_keep_the_count(api: Api) -> None:
    """An unlimited coupon's count may move on every request, so its answers under contention
    are approximate by design; the stored count is exact."""
    for round_ in range(3):
        code = api.create(useLimit=0).result
        first = [api.redeem(code).result["rdmId"] for _ in range(5)]
        cancels = [partial(api.cancel, code, rdm_id) for rdm_id in first]
        redeems = [partial(api.redeem, code, memo=f"r{round_}") for _ in range(10)]
        calls = [*chain.from_iterable(zip(redeems, cancels, strict=False)), *redeems[5:]]
        answers = in_parallel(calls, workers=len(calls))
        assert [(a.status, a.code) for a in answers] == [(200, 0)] * 15
        assert all(a.result["remaining"] is None for a in answers)
        records = redemption_records(api, code)
        assert statuses(records) == {"CANCELLED": 5, "REDEEMED": 10}
        assert {r["rdmId"] for r in records if r["status"] == "CANCELLED"} == set(first)
        assert use_count(api, code) == 10
        assert api.redeem(code).result["useCnt"] == 11


def test_10_concurrent_cancels_of_one_redemption_give_back_one_use(api: Api) -> None:
    code = api.create(useLimit=5, userId="buyer").result
    kept, cancelled = (api.redeem(code, userId="buyer").result["rdmId"] for _ in range(2))
    answers = in_parallel([partial(api.cancel, code, cancelled)] * 10, workers=10)
    assert Counter(a.code for a in answers) == {0: 1, 4227: 9}
    (ok,) = [a for a in answers if a.code == 0]
    assert (ok.status, ok.result) == (200, {"rdmId": cancelled, "useCnt": 1, "remaining": 4})
    assert {a.status for a in answers if a.code == 4227} == {422}
    assert use_count(api, code) == 1
    records = {r["rdmId"]: r["status"] for r in redemption_records(api, code)}
    assert records == {kept: "REDEEMED", cancelled: "CANCELLED"}
    assert api.validate(code).result["useCnt"] == 1


# --- 3. concurrent idempotent creates ----------------------------------------------------------


def test_concurrent_creates_with_one_key_create_one_coupon(api: Api) -> None:
    for round_ in range(3):
        create = partial(api.with_key(f"new-coupon-{round_}").create, nm=f"Coupon {round_}")
        answers = in_parallel([create] * 8, workers=8)
        outcomes = Counter((a.status, a.code) for a in answers)
        assert set(outcomes) <= {(200, 0), (409, 4092)}, outcomes
        created = [a for a in answers if a.code == 0]
        assert created, "the first request creates the coupon"
        assert len({a.result for a in created}) == 1
        assert sum(not replayed(a) for a in created) == 1, "one ran, the others replayed"
        assert all(a.result is None for a in answers if a.code == 4092)
        code = created[0].result
        listed = api.list(limit="100").result["items"]
        assert len(listed) == round_ + 1
        assert listed[0]["cpnNo"] == code
        assert listed[0]["nm"] == f"Coupon {round_}"
        # Once the first is done, every retry replays the code.
        again = api.with_key(f"new-coupon-{round_}").create(nm=f"Coupon {round_}")
        assert (again.status, again.result) == (200, code)
        assert replayed(again)
    assert len(api.list(limit="100").result["items"]) == 3


def test_concurrent_bulk_creates_with_one_key_create_one_batch(api: Api) -> None:
    api.create_groups(4)
    bulk = partial(api.with_key("batch").create_bulk, 10, grpIdx=4)
    answers = in_parallel([bulk] * 6, workers=6)
    assert set((a.status, a.code) for a in answers) <= {(200, 0), (409, 4092)}
    created = [a for a in answers if a.code == 0]
    assert sum(not replayed(a) for a in created) == 1
    assert len({tuple(a.result) for a in created}) == 1
    listed = api.list(limit="100").result["items"]
    assert sorted(c["cpnNo"] for c in listed) == sorted(created[0].result)


# --- 4. pagination over HTTP -------------------------------------------------------------------


def test_redemptions_are_paged_newest_first_with_signed_cursors(api: Api, other_api: Api) -> None:
    code = api.create(cpnNo="HISTORY0001", useLimit=0).result
    redeemed = [api.redeem(code, userId=f"u{i}", memo=f"order {i}").result for i in range(7)]
    assert api.cancel(code, redeemed[2]["rdmId"], memo="refund").code == 0

    answers = pages(partial(api.redemptions, code), 3)
    assert [len(a.result["items"]) for a in answers] == [3, 3, 1]
    assert [a.result["cursor"] is None for a in answers] == [False, False, True]
    items = [item for a in answers for item in a.result["items"]]
    assert [i["rdmId"] for i in items] == [r["rdmId"] for r in reversed(redeemed)]
    assert [i["rdmId"] for i in items] == sorted((i["rdmId"] for i in items), reverse=True)
    assert [i["regYmdt"] for i in items] == sorted((i["regYmdt"] for i in items), reverse=True)
    assert [i["memo"] for i in items] == [f"order {i}" for i in reversed(range(7))]
    assert [i["userId"] for i in items] == [f"u{i}" for i in reversed(range(7))]
    for item in items:
        assert set(item) == set(REDEMPTION["properties"])  # exactly what openapi.yaml says
        if item["rdmId"] == redeemed[2]["rdmId"]:
            assert item["status"] == "CANCELLED"
            assert item["cancelMemo"] == "refund"
            assert item["cancelYmdt"] >= item["regYmdt"]
        else:
            assert (item["status"], item["cancelYmdt"], item["cancelMemo"]) == ("REDEEMED", "", "")
    assert {i["rdmId"] for i in items} == {str(r["rdmId"]) for r in redemption_records(api, code)}

    cursor = answers[0].result["cursor"]
    # Another account, even with a coupon of the same code: 4001, never anyone's records.
    assert other_api.create(cpnNo=code, useLimit=0).code == 0
    other_api.redeem(code)
    assert_invalid_cursor(other_api.redemptions(code, cursor=cursor))
    # Another coupon of the same account, or the listing route: 4001.
    sibling = api.create(cpnNo="HISTORY0002", useLimit=0).result
    api.redeem(sibling)
    assert_invalid_cursor(api.redemptions(sibling, cursor=cursor))
    assert_invalid_cursor(api.list(cursor=cursor))
    for bad in tampered(cursor):
        assert_invalid_cursor(api.redemptions(code, limit="3", cursor=bad))
    # The genuine cursor still works after all that.
    assert api.redemptions(code, limit="3", cursor=cursor).result == answers[1].result


def test_list_pages_through_a_bulk_batch_and_singles_with_filters(api: Api, other_api: Api) -> None:
    api.create_groups(7)
    other_api.create_groups(7)
    oldest = api.create(nm="oldest").result
    batch = api.create_bulk(5, grpIdx=7, cpnNoDigits=8).result
    assert len(set(batch)) == 5
    grouped_alice = api.create(grpIdx=7, userId="alice").result
    other_alice = api.create(grpIdx=3, userId="alice").result
    newest = api.create(nm="newest").result
    everything = {oldest, *batch, grouped_alice, other_alice, newest}
    other_api.create(grpIdx=7, userId="alice")  # another account's: never listed here

    answers = pages(api.list, 4)
    assert [len(a.result["items"]) for a in answers] == [4, 4, 1]
    coupons = [c for a in answers for c in a.result["items"]]
    codes = [c["cpnNo"] for c in coupons]
    assert len(codes) == len(set(codes)) == 9
    assert set(codes) == everything
    # Newest first: the three singles created last, the batch, then the first single.
    assert codes[:3] == [newest, other_alice, grouped_alice]
    assert set(codes[3:8]) == set(batch)
    assert codes[8] == oldest
    assert [c["regYmdt"] for c in coupons] == sorted((c["regYmdt"] for c in coupons), reverse=True)
    assert all(c["useCnt"] == 0 and "cpnNo" in c and "formatDiscCurrency" in c for c in coupons)

    group = pages(partial(api.list, grpIdx="7"), 2)
    assert [len(a.result["items"]) for a in group] == [2, 2, 2]
    group_codes = [c["cpnNo"] for a in group for c in a.result["items"]]
    assert group_codes[0] == grouped_alice
    assert set(group_codes) == {grouped_alice, *batch} and len(group_codes) == 6
    assert all(c["grpIdx"] == 7 for a in group for c in a.result["items"])

    alice = pages(partial(api.list, userId="alice"), 1)
    assert [[c["cpnNo"] for c in a.result["items"]] for a in alice] == [
        [other_alice],
        [grouped_alice],
    ]
    alice_in_7 = pages(partial(api.list, userId="alice", grpIdx="7"), 1)
    assert [c["cpnNo"] for a in alice_in_7 for c in a.result["items"]] == [grouped_alice]
    assert api.list(grpIdx="5").result == {"items": [], "cursor": None}
    assert api.list(userId="bob").result == {"items": [], "cursor": None}

    cursor = answers[0].result["cursor"]
    group_cursor = group[0].result["cursor"]
    alice_cursor = alice[0].result["cursor"]
    assert_invalid_cursor(other_api.list(cursor=cursor))
    assert_invalid_cursor(other_api.list(grpIdx="7", cursor=group_cursor))
    assert_invalid_cursor(other_api.list(userId="alice", cursor=alice_cursor))
    # A cursor is bound to its filters too.
    assert_invalid_cursor(api.list(cursor=group_cursor))
    assert_invalid_cursor(api.list(grpIdx="3", cursor=group_cursor))
    assert_invalid_cursor(api.list(userId="alice", grpIdx="7", cursor=alice_cursor))
    for bad in [*tampered(cursor), "", "not-a-cursor", "x" * 2000]:
        assert_invalid_cursor(api.list(limit="4", cursor=bad))
    assert api.list(limit="4", cursor=cursor).result == answers[1].result


# --- 5. bulk creation at its maximum -----------------------------------------------------------


def test_bulk_create_of_100_in_one_request_is_listed_and_replayed(api: Api) -> None:
    api.create_groups(9)
    keyed = api.with_key("bulk-100")
    first = keyed.create_bulk(100, nm="Launch", grpIdx=9, cpnNoDigits=12)
    assert (first.status, first.code) == (200, 0)
    assert not replayed(first)
    codes = first.result
    assert len(codes) == len(set(codes)) == 100
    assert all(len(code) == 12 for code in codes)

    listed = api.list(limit="100").result
    assert listed["cursor"] is None
    assert {c["cpnNo"] for c in listed["items"]} == set(codes)
    assert {(c["nm"], c["grpIdx"], c["useCnt"]) for c in listed["items"]} == {("Launch", 9, 0)}

    again = keyed.create_bulk(100, nm="Launch", grpIdx=9, cpnNoDigits=12)
    assert (again.status, again.code, again.result) == (200, 0, codes)
    assert replayed(again)
    assert len(api.list(limit="100").result["items"]) == 100
    other = keyed.create_bulk(99, nm="Launch", grpIdx=9, cpnNoDigits=12)
    assert (other.status, other.code) == (422, 4226)
    assert len(api.list(limit="100").result["items"]) == 100


# --- 6. delete and re-create -------------------------------------------------------------------


def test_a_recreated_code_starts_a_new_history_and_keeps_the_old_one(api: Api) -> None:
    code = api.create(cpnNo="REBORN0001", useLimit=0).result
    old = [api.redeem(code, memo=f"old {i}").result["rdmId"] for i in range(3)]
    assert api.cancel(code, old[0]).code == 0
    assert api.delete(code).code == 0
    assert api.redemptions(code).code == 4040
    assert api.cancel(code, old[1]).code == 4040

    assert api.create(cpnNo=code, useLimit=1).code == 0
    assert api.redemptions(code).result == {"items": [], "cursor": None}
    for rdm_id in old:  # cancelled or not, the old coupon's records are out of reach
        refused = api.cancel(code, rdm_id)
        assert (refused.status, refused.code, refused.result) == (422, 4227, None)
    refused = api.with_key("old-refund").cancel(code, old[1])
    assert (refused.status, refused.code) == (422, 4227)
    assert use_count(api, code) == 0
    assert api.validate(code).result["useCnt"] == 0
    # The old records are all still there, unchanged.
    records = {r["rdmId"]: r for r in redemption_records(api, code)}
    assert set(records) == set(old)
    assert [records[rdm]["status"] for rdm in old] == ["CANCELLED", "REDEEMED", "REDEEMED"]

    # The new coupon has its own history, which cancels normally.
    new = api.redeem(code, memo="new").result
    assert new["useCnt"] == 1 and new["remaining"] == 0
    listed = api.redemptions(code).result
    assert [i["rdmId"] for i in listed["items"]] == [new["rdmId"]]
    assert api.cancel(code, old[2]).code == 4227
    assert api.cancel(code, new["rdmId"]).result == {
        "rdmId": new["rdmId"],
        "useCnt": 0,
        "remaining": 1,
    }
    assert use_count(api, code) == 0
    assert len(redemption_records(api, code)) == 4
