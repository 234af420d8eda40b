"""The payment-flow routes: POST /redeem/cancel gives one use back, GET /redemptions and
GET /list page newest first behind signed cursors, POST /create/bulk makes `count` coupons
all or nothing without ever overwriting a code."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coupons import containers, rules
from coupons.store.redemptions import FLUSH_AT, MOST_INLINE
from devstack.samples import coupon_fields
from tests.conftest import Api, Response, account_of, stored_redemptions

YMDT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
YMDT_FORMAT = "%Y-%m-%d %H:%M:%S"


def _codes(answer: Response) -> list[str]:
    return [coupon["cpnNo"] for coupon in answer.result["items"]]


def _rdm_ids(answer: Response) -> list[str]:
    return [record["rdmId"] for record in answer.result["items"]]


def _refused_field(answer: Response) -> tuple[int, int, str]:
    return answer.status, answer.code, answer.body["errors"][0]["field"]


# --- POST /redeem/cancel ----------------------------------------------------------------------


def test_cancel_gives_the_use_back_and_a_used_up_coupon_redeems_again(api: Api) -> None:
    code = api.create().result
    rdm_id = api.redeem(code).result["rdmId"]
    assert api.validate(code).code == 4222
    cancelled = api.cancel(code, rdm_id, memo="payment failed")
    assert (cancelled.status, cancelled.body) == (
        200,
        {"code": 0, "message": "", "result": {"rdmId": rdm_id, "useCnt": 0, "remaining": 1}},
    )
    assert api.validate(code).result["useCnt"] == 0
    assert api.redeem(code).result["useCnt"] == 1


def test_second_cancel_of_the_same_redemption_is_4227(api: Api) -> None:
    code = api.create(useLimit=0).result
    rdm_id = api.redeem(code).result["rdmId"]
    api.redeem(code)
    assert api.cancel(code, rdm_id).result["useCnt"] == 1
    again = api.cancel(code, rdm_id)
    assert (again.status, again.code, again.result) == (422, 4227, None)
    assert api.validate(code).result["useCnt"] == 1


def test_cancel_of_an_unknown_redemption_is_4227(api: Api) -> None:
    code = api.create(useLimit=0).result
    real = api.redeem(code).result["rdmId"]
    for unknown in ("0" * 24, real[:12] + "0" * 12, "f" * 24):
        assert api.cancel(code, unknown).code == 4227
    assert api.validate(code).result["useCnt"] == 1


def test_cancel_under_another_coupon_is_4227(api: Api) -> None:
    code = api.create().result
    other = api.create().result
    rdm_id = api.redeem(code).result["rdmId"]
    api.redeem(other)
    assert api.cancel(other, rdm_id).code == 4227
    assert api.validate(code).code == 4222  # still used
    assert api.validate(other).code == 4222


@pytest.mark.parametrize(
    "rdm_id", ["", "abc", "A" * 24, "g" * 24, "0" * 23, "0" * 25, 123, None, ["0" * 24]]
)
def test_cancel_needs_a_well_formed_rdm_id(api: Api, rdm_id: Any) -> None:
    code = api.create().result
    api.redeem(code)
    answer = api.call("POST", "/redeem/cancel", body={"cpnNo": code, "rdmId": rdm_id})
    assert _refused_field(answer) == (400, 4001, "rdmId")


def test_cancel_needs_a_coupon_code(api: Api) -> None:
    answer = api.call("POST", "/redeem/cancel", body={"rdmId": "0" * 24})
    assert _refused_field(answer) == (400, 4001, "cpnNo")


def test_cancel_of_an_unknown_or_foreign_coupon_is_404(api: Api, other_api: Api) -> None:
    code = api.create().result
    rdm_id = api.redeem(code).result["rdmId"]
    for answer in (api.cancel("NOSUCHCODE", rdm_id), other_api.cancel(code, rdm_id)):
        assert (answer.status, answer.code, answer.result) == (404, 4040, None)
    assert api.validate(code).code == 4222


def test_cancel_after_the_coupon_was_deleted_is_404(api: Api) -> None:
    code = api.create().result
    rdm_id = api.redeem(code).result["rdmId"]
    api.delete(code)
    assert api.cancel(code, rdm_id).code == 4040


def test_redemption_of_a_deleted_coupon_cannot_be_cancelled_under_its_successor(api: Api) -> None:
    api.create(cpnNo="REUSED234", useLimit=0)
    old_id = api.redeem("REUSED234").result["rdmId"]
    api.delete("REUSED234")
    api.create(cpnNo="REUSED234", useLimit=0)
    api.redeem("REUSED234")
    assert api.cancel("REUSED234", old_id).code == 4227
    containers.reset()  # also on a container that has no belief about the new coupon
    assert api.cancel("REUSED234", old_id).code == 4227
    assert api.validate("REUSED234").result["useCnt"] == 1


def test_cancel_counts_right_for_a_multi_use_coupon_on_a_cold_container(api: Api) -> None:
    code = api.create(useLimit=3, userId="u9").result
    rdm_ids = [api.redeem(code, userId="u9").result["rdmId"] for _ in range(3)]
    containers.reset()  # the first guess (a single-use coupon used once) is wrong here
    assert api.cancel(code, rdm_ids[1]).result == {
        "rdmId": rdm_ids[1],
        "useCnt": 2,
        "remaining": 1,
    }
    assert api.validate(code).result["useCnt"] == 2
    assert api.redeem(code, userId="u9").result["useCnt"] == 3


def test_cancel_of_an_unlimited_coupon_reports_no_remaining(api: Api) -> None:
    code = api.create(useLimit=0).result
    rdm_id = api.redeem(code).result["rdmId"]
    assert api.cancel(code, rdm_id).result == {"rdmId": rdm_id, "useCnt": 0, "remaining": None}


# --- GET /redemptions -------------------------------------------------------------------------


def test_redemptions_are_listed_newest_first_with_their_status(api: Api) -> None:
    code = api.create(useLimit=0).result
    ids = [api.redeem(code, userId=f"u{i}", memo=f"order {i}").result["rdmId"] for i in range(3)]
    api.cancel(code, ids[1], memo="card declined")
    page = api.redemptions(code)
    assert (page.status, page.code, page.result["cursor"]) == (200, 0, None)
    newest, cancelled, oldest = page.result["items"]
    assert [newest["rdmId"], cancelled["rdmId"], oldest["rdmId"]] == ids[::-1]
    assert list(newest) == [
        "rdmId", "userId", "memo", "status", "regYmdt", "cancelYmdt", "cancelMemo", "amount",
        "currency", "discAmt",
    ]  # fmt: skip
    assert (newest["userId"], newest["memo"], newest["status"]) == ("u2", "order 2", "REDEEMED")
    assert (newest["cancelYmdt"], newest["cancelMemo"]) == ("", "")
    assert (cancelled["status"], cancelled["cancelMemo"]) == ("CANCELLED", "card declined")
    assert YMDT.match(cancelled["cancelYmdt"]) and cancelled["cancelYmdt"] >= cancelled["regYmdt"]
    assert YMDT.match(oldest["regYmdt"])


def test_a_coupon_without_redemptions_has_an_empty_list(api: Api) -> None:
    code = api.create().result
    assert api.redemptions(code).result == {"items": [], "cursor": None}


def _pages(fetch: Any, **query: str) -> Iterator[Response]:
    """Every page of a listing, following the cursors."""
    while True:
        page = fetch(**query)
        assert page.code == 0, page.body
        yield page
        if page.result["cursor"] is None:
            return
        query["cursor"] = page.result["cursor"]


@pytest.mark.parametrize(("uses", "sizes"), [(5, [2, 2, 1]), (4, [2, 2]), (2, [2])])
def test_redemptions_page_by_cursor_until_the_cursor_is_null(
    api: Api, uses: int, sizes: list[int]
) -> None:
    code = api.create(useLimit=0).result
    ids = [api.redeem(code).result["rdmId"] for _ in range(uses)]
    pages = list(_pages(lambda **q: api.redemptions(code, **q), limit="2"))
    assert [len(page.result["items"]) for page in pages] == sizes
    assert [i for page in pages for i in _rdm_ids(page)] == ids[::-1]


def test_redemptions_default_to_pages_of_20(api: Api) -> None:
    code = api.create(useLimit=0).result
    for _ in range(21):
        api.redeem(code)
    first = api.redemptions(code)
    assert len(first.result["items"]) == 20 and first.result["cursor"]
    rest = api.redemptions(code, cursor=first.result["cursor"])
    assert len(rest.result["items"]) == 1 and rest.result["cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "", " 5"])
def test_redemptions_limit_is_1_to_100(api: Api, limit: str) -> None:
    code = api.create().result
    assert _refused_field(api.redemptions(code, limit=limit)) == (400, 4001, "limit")


def test_redemptions_of_an_unknown_or_foreign_coupon_are_404(api: Api, other_api: Api) -> None:
    code = api.create().result
    api.redeem(code)
    for answer in (api.redemptions("NOSUCHCODE"), other_api.redemptions(code)):
        assert (answer.status, answer.code, answer.result) == (404, 4040, None)


def test_redemptions_of_a_deleted_coupon_never_show_under_its_successor(api: Api) -> None:
    api.create(cpnNo="REUSED345", useLimit=0)
    for _ in range(3):
        api.redeem("REUSED345")
    old_cursor = api.redemptions("REUSED345", limit="1").result["cursor"]
    api.delete("REUSED345")
    api.create(cpnNo="REUSED345", useLimit=0)
    assert api.redemptions("REUSED345").result == {"items": [], "cursor": None}
    new_id = api.redeem("REUSED345").result["rdmId"]
    assert _rdm_ids(api.redemptions("REUSED345")) == [new_id]
    refused = api.redemptions("REUSED345", cursor=old_cursor)
    assert _refused_field(refused) == (400, 4001, "cursor")


def test_redemptions_cursor_is_bound_to_its_coupon(api: Api) -> None:
    code, other = api.create(useLimit=0).result, api.create(useLimit=0).result
    for coupon in (code, other, code, other):
        api.redeem(coupon)
    cursor = api.redemptions(code, limit="1").result["cursor"]
    assert _refused_field(api.redemptions(other, cursor=cursor)) == (400, 4001, "cursor")


def test_tampered_redemptions_cursor_is_4001(api: Api) -> None:
    code = api.create(useLimit=0).result
    for _ in range(3):
        api.redeem(code)
    cursor = api.redemptions(code, limit="1").result["cursor"]
    for bad in _tampered(cursor):
        assert _refused_field(api.redemptions(code, cursor=bad)) == (400, 4001, "cursor")


def test_redemption_times_follow_the_deployment_time_zone(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = api.create(useLimit=0).result
    rdm_id = api.redeem(code).result["rdmId"]
    api.cancel(code, rdm_id)

    def times(zone: str) -> tuple[datetime, datetime]:
        monkeypatch.setenv("TIME_ZONE", zone)
        containers.reset()  # settings are read once per container
        (record,) = api.redemptions(code).result["items"]
        parse = datetime.strptime
        return parse(record["regYmdt"], YMDT_FORMAT), parse(record["cancelYmdt"], YMDT_FORMAT)

    utc, seoul = times("UTC"), times("Asia/Seoul")  # UTC+9, no daylight saving
    assert [s - u for s, u in zip(seoul, utc, strict=True)] == [timedelta(hours=9)] * 2
    redeemed_at = datetime.fromtimestamp(int(rdm_id[:12], 16) / 1000, UTC)  # the id's time
    assert utc[0] == redeemed_at.replace(microsecond=0, tzinfo=None)


def _tampered(cursor: str) -> list[str]:
    payload, _, tag = cursor.partition(".")
    flipped = "A" if payload[0] != "A" else "B"
    return [
        flipped + cursor[1:],  # payload changed
        payload + "." + ("A" if tag[0] != "A" else "B") + tag[1:],  # signature changed
        payload,  # signature dropped
        "." + tag,
        cursor + "x",
        "not a cursor",
        "",
        "x" * 2000,
    ]


# --- GET /list --------------------------------------------------------------------------------


def test_list_shows_the_accounts_coupons_newest_first_as_validate_does(api: Api) -> None:
    codes = [api.create(memo=f"m{i}", useLimit=0).result for i in range(3)]
    api.redeem(codes[0])
    page = api.list()
    assert (page.status, page.code, page.result["cursor"]) == (200, 0, None)
    assert _codes(page) == codes[::-1]
    assert page.result["items"] == [_listed(api.validate(code).result) for code in codes[::-1]]
    assert page.result["items"][-1]["useCnt"] == 1


def test_list_follows_the_request_language(api: Api) -> None:
    code = api.create(discCurrency="KRW", disc=5000).result
    korean = Api(api.api_key, language="ko")
    assert korean.list().result["items"] == [_listed(korean.validate(code).result)]


def _listed(validated: dict[str, Any]) -> dict[str, Any]:
    """A coupon object as the list shows it: validate's, without its template's text (which
    only validate reads, DESIGN 2.7)."""
    assert "template" in validated
    return {name: value for name, value in validated.items() if name != "template"}


def test_an_account_without_coupons_lists_nothing(api: Api) -> None:
    assert api.list().result == {"items": [], "cursor": None}


def test_list_never_shows_another_accounts_coupons(api: Api, other_api: Api) -> None:
    api.create_groups(1)
    other_api.create_groups(1)  # the same number, another account's group
    mine = api.create(grpIdx=1, userId="shared-user").result
    theirs = other_api.create(grpIdx=1, userId="shared-user").result
    for query in ({}, {"grpIdx": "1"}, {"userId": "shared-user"}):
        assert _codes(api.list(**query)) == [mine]
        assert _codes(other_api.list(**query)) == [theirs]


@pytest.mark.parametrize(("count", "sizes"), [(5, [2, 2, 1]), (4, [2, 2]), (1, [1])])
def test_list_pages_by_cursor_until_the_cursor_is_null(
    api: Api, count: int, sizes: list[int]
) -> None:
    codes = [api.create().result for _ in range(count)]
    pages = list(_pages(api.list, limit="2"))
    assert [len(page.result["items"]) for page in pages] == sizes
    assert [code for page in pages for code in _codes(page)] == codes[::-1]


def test_list_defaults_to_pages_of_20_and_allows_100(api: Api) -> None:
    api.create_bulk(21)
    first = api.list()
    assert len(first.result["items"]) == 20 and first.result["cursor"]
    assert len(api.list(cursor=first.result["cursor"]).result["items"]) == 1
    everything = api.list(limit="100")
    assert len(everything.result["items"]) == 21 and everything.result["cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "", "1e2"])
def test_list_limit_is_1_to_100(api: Api, limit: str) -> None:
    assert _refused_field(api.list(limit=limit)) == (400, 4001, "limit")


@pytest.mark.parametrize("grp_idx", ["-1", "abc", "1.5", "", "2147483648"])
def test_list_group_must_be_a_whole_number(api: Api, grp_idx: str) -> None:
    assert _refused_field(api.list(grpIdx=grp_idx)) == (400, 4001, "grpIdx")


@pytest.fixture
def catalogue(api: Api) -> dict[str, str]:
    """Coupons by (group, user), created in this order."""
    api.create_groups(2)
    made = {}
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("g1-alice", {"grpIdx": 1, "userId": "alice"}),
        ("g2-alice", {"grpIdx": 2, "userId": "alice"}),
        ("g1-bob", {"grpIdx": 1, "userId": "bob"}),
        ("g1-nobody", {"grpIdx": 1}),
        ("g0-alice", {"userId": "alice"}),
    ]
    for name, fields in shapes:
        made[name] = api.create(**fields).result
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"grpIdx": "1"}, ["g1-nobody", "g1-bob", "g1-alice"]),
        ({"grpIdx": "0"}, ["g0-alice"]),
        ({"userId": "alice"}, ["g0-alice", "g2-alice", "g1-alice"]),
        ({"userId": "alice", "grpIdx": "1"}, ["g1-alice"]),
        ({"userId": "alice", "grpIdx": "0"}, ["g0-alice"]),
        ({"userId": "bob", "grpIdx": "2"}, []),
        ({"userId": "carol"}, []),
        ({"grpIdx": "9"}, []),
    ],
)
def test_list_filters_by_group_user_or_both(
    api: Api, catalogue: dict[str, str], query: dict[str, str], expected: list[str]
) -> None:
    page = api.list(**query)
    assert _codes(page) == [catalogue[name] for name in expected]
    assert page.result["cursor"] is None


@pytest.mark.parametrize(
    "query", [{"grpIdx": "1"}, {"userId": "alice"}, {"userId": "alice", "grpIdx": "1"}]
)
def test_filtered_list_pages_without_gaps_or_repeats(
    api: Api, catalogue: dict[str, str], query: dict[str, str]
) -> None:
    whole = _codes(api.list(**query))
    pages = list(_pages(api.list, limit="1", **query))
    assert [code for page in pages for code in _codes(page)] == whole
    assert len(pages) == len(whole)


def test_list_cursor_is_refused_with_other_filters(api: Api, catalogue: dict[str, str]) -> None:
    cursor = api.list(limit="1", grpIdx="1").result["cursor"]
    for query in ({}, {"grpIdx": "2"}, {"userId": "alice"}, {"userId": "alice", "grpIdx": "1"}):
        answer = api.list(cursor=cursor, **query)
        assert _refused_field(answer) == (400, 4001, "cursor")
    by_user = api.list(limit="1", userId="alice").result["cursor"]
    assert _refused_field(api.list(cursor=by_user, userId="bob")) == (400, 4001, "cursor")
    assert api.list(cursor=cursor, grpIdx="1").code == 0


def test_list_cursor_of_another_account_is_refused(api: Api, other_api: Api) -> None:
    api.create_bulk(3)
    other_api.create_bulk(3)
    cursor = other_api.list(limit="1").result["cursor"]
    answer = api.list(cursor=cursor)
    assert _refused_field(answer) == (400, 4001, "cursor") and answer.result is None


def test_tampered_list_cursor_is_4001(api: Api) -> None:
    api.create_bulk(3)
    cursor = api.list(limit="1").result["cursor"]
    for bad in _tampered(cursor):
        assert _refused_field(api.list(cursor=bad)) == (400, 4001, "cursor")


def test_editing_user_or_group_moves_the_coupon_between_listings(
    api: Api, catalogue: dict[str, str]
) -> None:
    code = catalogue["g1-alice"]
    assert api.update(code, userId="bob", grpIdx=2).code == 0
    assert code not in _codes(api.list(userId="alice"))
    assert code not in _codes(api.list(grpIdx="1"))
    assert code in _codes(api.list(userId="bob", grpIdx="2"))
    assert code in _codes(api.list(grpIdx="2"))
    assert api.update(code, userId="").code == 0
    assert code not in _codes(api.list(userId="bob"))
    assert _codes(api.list(grpIdx="2"))[0] == catalogue["g2-alice"]  # order is creation order


def test_a_used_coupon_keeps_its_listing(api: Api, catalogue: dict[str, str]) -> None:
    code = catalogue["g1-bob"]
    api.redeem(code, userId="bob")
    assert api.update(code, userId="alice", grpIdx=2).code == 4091
    assert code in _codes(api.list(userId="bob", grpIdx="1"))
    assert code not in _codes(api.list(userId="alice"))


def test_deleted_coupons_disappear_from_every_listing(api: Api, catalogue: dict[str, str]) -> None:
    code = catalogue["g1-alice"]
    api.delete(code)
    for query in ({}, {"grpIdx": "1"}, {"userId": "alice"}, {"userId": "alice", "grpIdx": "1"}):
        assert code not in _codes(api.list(**query))
    assert len(_codes(api.list())) == 4


def test_deleting_the_coupon_a_cursor_points_at_does_not_break_paging(api: Api) -> None:
    codes = [api.create().result for _ in range(3)]
    first = api.list(limit="1")
    assert _codes(first) == [codes[2]]
    api.delete(codes[2])
    assert _codes(api.list(cursor=first.result["cursor"])) == [codes[1], codes[0]]


def test_a_recreated_code_lists_once_as_the_newest(api: Api) -> None:
    api.create(cpnNo="AGAIN2345")
    later = api.create().result
    api.delete("AGAIN2345")
    api.create(cpnNo="AGAIN2345", memo="second life")
    page = api.list()
    assert _codes(page) == ["AGAIN2345", later]
    assert page.result["items"][0]["memo"] == "second life"


# --- POST /create/bulk ------------------------------------------------------------------------


def test_bulk_creates_count_new_coupons_with_the_same_terms(api: Api) -> None:
    api.create_groups(3)
    made = api.create_bulk(5, cpnNoDigits=8, grpIdx=3, memo="spring sale")
    assert (made.status, made.code) == (200, 0)
    codes = made.result
    assert len(codes) == len(set(codes)) == 5
    for code in codes:
        assert len(code) == 8 and rules.normalize_code(code) == code
        coupon = api.validate(code).result
        assert (coupon["grpIdx"], coupon["memo"], coupon["useCnt"]) == (3, "spring sale", 0)
    assert sorted(_codes(api.list(grpIdx="3"))) == sorted(codes)


def test_bulk_codes_default_to_16_characters(api: Api) -> None:
    assert [len(code) for code in api.create_bulk(2).result] == [16, 16]


def test_bulk_can_make_100_at_once(api: Api) -> None:
    codes = api.create_bulk(100, cpnNoDigits=12).result
    assert len(set(codes)) == 100
    assert len(_codes(api.list(limit="100"))) == 100


@pytest.mark.parametrize("count", [0, 101, -1, "5", 2.5, True, None, [3]])
def test_bulk_count_must_be_1_to_100(api: Api, count: Any) -> None:
    answer = api.call("POST", "/create/bulk", body={"count": count, **coupon_fields()})
    assert _refused_field(answer) == (400, 4001, "count")
    assert _codes(api.list()) == []


def test_bulk_without_count_is_4001(api: Api) -> None:
    answer = api.call("POST", "/create/bulk", body=coupon_fields())
    assert _refused_field(answer) == (400, 4001, "count")


@pytest.mark.parametrize("cpn_no", ["CHOSEN234", ""])
def test_bulk_refuses_a_chosen_code(api: Api, cpn_no: str) -> None:
    answer = api.create_bulk(2, cpnNo=cpn_no)
    assert _refused_field(answer) == (400, 4001, "cpnNo")
    assert _codes(api.list()) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"disc": 0}, "disc"),
        ({"useLimit": 3}, "userId"),
        ({"endYmd": "2000-01-01"}, "endYmd"),
        ({"cpnNoDigits": 10}, "cpnNoDigits"),
        ({"nm": ""}, "nm"),
    ],
)
def test_bulk_with_invalid_terms_writes_nothing(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    existing = api.create().result
    answer = api.create_bulk(3, **fields)
    assert _refused_field(answer) == (400, 4001, field)
    assert _codes(api.list()) == [existing]


def test_bulk_never_overwrites_an_existing_code(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = [api.create(cpnNo=code, memo="original").result for code in ("TAKEN234", "TAKEN345")]
    draws = iter([*taken, "FRESH234", "FRESH345", "FRESH456"])
    monkeypatch.setattr(rules, "generate_code", lambda length: next(draws))
    made = api.create_bulk(3, cpnNoDigits=8, memo="bulk")
    assert made.code == 0
    assert sorted(made.result) == ["FRESH234", "FRESH345", "FRESH456"]
    for code in taken:
        assert api.validate(code).result["memo"] == "original"
    for code in made.result:
        assert api.validate(code).result["memo"] == "bulk"
    assert len(_codes(api.list())) == 5


def test_bulk_never_draws_the_same_code_twice(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["TWICE2345", "TWICE2345", "ONCE23456"])
    monkeypatch.setattr(rules, "generate_code", lambda length: next(draws))
    assert sorted(api.create_bulk(2, cpnNoDigits=8).result) == ["ONCE23456", "TWICE2345"]


def test_bulk_codes_are_the_accounts_own(api: Api, other_api: Api) -> None:
    codes = api.create_bulk(2).result
    for code in codes:
        assert other_api.validate(code).code == 4040
    assert _codes(other_api.list()) == []


# --- redemption records: kept on the coupon, then moved out -----------------------------------


def _stored_records(api: Api, code: str) -> tuple[int, int]:
    """(records on the coupon item, records moved to items of their own)."""
    on_coupon, moved = stored_redemptions(api, code)
    return len(on_coupon), len(moved)


def test_records_move_out_and_the_history_keeps_every_one_newest_first(api: Api) -> None:
    code = api.create(useLimit=0).result
    ids = [api.redeem(code, memo=f"order {i}").result["rdmId"] for i in range(20)]
    on_coupon, moved = _stored_records(api, code)
    assert (on_coupon + moved, moved % FLUSH_AT) == (20, 0) and on_coupon < FLUSH_AT
    # One moved out long ago, one still on the coupon: each cancelled with the exact count.
    assert api.cancel(code, ids[2]).result["useCnt"] == 19
    assert api.cancel(code, ids[19]).result["useCnt"] == 18
    pages = list(_pages(lambda **q: api.redemptions(code, **q), limit="7"))
    items = [item for page in pages for item in page.result["items"]]
    assert [item["rdmId"] for item in items] == ids[::-1]
    assert [item["memo"] for item in items] == [f"order {i}" for i in reversed(range(20))]
    cancelled = {item["rdmId"] for item in items if item["status"] == "CANCELLED"}
    assert cancelled == {ids[2], ids[19]}


def test_keyed_redemptions_alone_keep_the_coupon_item_bounded(api: Api) -> None:
    """A transaction does not see the coupon: at MOST_INLINE records one is refused, the
    records move out, and it goes through."""
    code = api.create(useLimit=0).result
    counts = [api.with_key(f"order-{i}").redeem(code).result["useCnt"] for i in range(40)]
    assert counts == list(range(1, 41))
    on_coupon, moved = _stored_records(api, code)
    assert on_coupon + moved == 40 and on_coupon <= MOST_INLINE
    assert len(api.redemptions(code, limit="100").result["items"]) == 40


def test_a_coupon_stored_without_a_record_map_still_redeems_and_cancels(api: Api) -> None:
    """Coupons stored before records were kept on them get their map with their first use."""
    from coupons import settings
    from coupons.store.client import client
    from coupons.store.keys import coupon_key

    code = api.create(useLimit=3, userId="u1").result
    client().update_item(
        TableName=settings.current().table_name,
        Key=coupon_key(account_of(api), code),
        UpdateExpression="REMOVE rdm",
    )
    rdm_id = api.redeem(code, userId="u1").result["rdmId"]
    assert api.cancel(code, rdm_id).result == {"rdmId": rdm_id, "useCnt": 0, "remaining": 3}
    assert [item["status"] for item in api.redemptions(code).result["items"]] == ["CANCELLED"]


def test_a_replay_after_its_record_moved_out_answers_until_it_is_cancelled(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-moved")
    first = keyed.redeem(code)
    for _ in range(FLUSH_AT):
        api.redeem(code)
    assert _stored_records(api, code)[1] >= 1
    again = keyed.redeem(code)
    assert (again.headers.get("Idempotent-Replayed"), again.body) == ("true", first.body)
    api.cancel(code, first.result["rdmId"])
    assert keyed.redeem(code).code == 4227


def test_a_deleted_coupon_keeps_the_records_it_carried(api: Api) -> None:
    code = api.create(useLimit=0).result
    for _ in range(3):
        api.redeem(code)
    assert _stored_records(api, code) == (3, 0)
    assert api.delete(code).code == 0
    assert _stored_records(api, code) == (0, 3)
    assert api.create(cpnNo=code, useLimit=0).code == 0
    assert api.redemptions(code).result["items"] == []  # not shown under its successor


def test_records_with_long_memos_move_out_before_the_item_grows(api: Api) -> None:
    """Past INLINE_BYTES of records (1,000-character memos) they move out at once: every
    write of the coupon is billed by its size."""
    code = api.create(useLimit=0).result
    for i in range(3):
        api.redeem(code, memo=f"{i}" * 1000)
    on_coupon, moved = _stored_records(api, code)
    assert (on_coupon, moved) == (1, 2)


def test_history_lists_a_record_once_when_it_moved_out_between_its_two_reads(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coupons.store import coupons as coupon_items

    code = api.create(useLimit=0).result
    ids = [api.redeem(code).result["rdmId"] for _ in range(FLUSH_AT - 1)]
    before = coupon_items.get(account_of(api), code, consistent=True)
    ids.append(api.redeem(code).result["rdmId"])  # the eighth: all eight move out
    assert _stored_records(api, code) == (0, FLUSH_AT)
    # The history's read of the coupon saw seven records still on it; its Query, all eight.
    monkeypatch.setattr(coupon_items, "get", lambda *_, **__: before)
    items = api.redemptions(code).result["items"]
    assert [item["rdmId"] for item in items] == ids[::-1]
