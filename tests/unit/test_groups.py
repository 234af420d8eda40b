"""Coupon groups (DESIGN 2.7): numbered per account from 1, created, read, listed, edited in
part and deleted; their settings take priority over their coupons' own wherever a coupon is
shown; coupons and groups refer only to groups and templates that exist in their own account,
and keep them from being deleted."""

from typing import Any

import pytest

from tests.conftest import Api, Response, account_of

GROUP = {
    "nm": "Spring sale",
    "imgUrl": "https://shop.example.com/spring.png",
    "color": "#FFFFFF",
    "background": "#0B6E4F",
    "url": "https://shop.example.com/spring",
    "domain": "https://coupons.shop.example.com",
    "memo": "2027 campaign",
}
SETTINGS = ("imgUrl", "color", "background", "url", "tmplIdx", "domain")
TEXT = {"nm": "Spring", "description": "10% off.", "usage": "Online.", "precautions": "None."}


def _create(api: Api, **fields: Any) -> Response:
    return api.call("POST", "/group/create", body={**GROUP, **fields})


def _get(api: Api, grp_idx: object) -> Response:
    return api.call("GET", "/group", query={"grpIdx": str(grp_idx)})


def _update(api: Api, grp_idx: int, **fields: Any) -> Response:
    return api.call("PUT", "/group/update", body={"grpIdx": grp_idx, **fields})


def _delete(api: Api, grp_idx: int) -> Response:
    return api.call("DELETE", "/group/delete", query={"grpIdx": str(grp_idx)})


def _template(api: Api, **fields: Any) -> int:
    answer = api.call("POST", "/template/create", body={**TEXT, **fields})
    assert answer.code == 0, answer.body
    return int(answer.result)


def _delete_template(api: Api, tmpl_idx: int) -> Response:
    return api.call("DELETE", "/template/delete", query={"tmplIdx": str(tmpl_idx)})


# --- the group routes ------------------------------------------------------------------------


def test_groups_are_numbered_from_1_per_account(api: Api, other_api: Api) -> None:
    assert [_create(api).result for _ in range(3)] == [1, 2, 3]
    assert _create(other_api).result == 1


def test_a_group_reads_back_as_written(api: Api) -> None:
    grp_idx = _create(api, nm="  Spring sale  ").result
    shown = _get(api, grp_idx).result
    assert {k: shown[k] for k in GROUP} == GROUP
    assert (shown["grpIdx"], shown["tmplIdx"], shown["couponCnt"]) == (grp_idx, 0, 0)
    assert len(shown["regYmdt"]) == len("2026-11-30 09:00:00")


def test_only_the_name_is_required_and_settings_are_unset_by_default(api: Api) -> None:
    shown = _get(api, api.call("POST", "/group/create", body={"nm": "Plain"}).result).result
    assert {k: shown[k] for k in SETTINGS} == {k: 0 if k == "tmplIdx" else "" for k in SETTINGS}
    missing = api.call("POST", "/group/create", body={"memo": "x"})
    assert (missing.code, missing.body["errors"][0]["field"]) == (4001, "nm")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("imgUrl", "http://shop.example.com/a.png"),  # an image is https only
        ("imgUrl", "https://" + "a" * 2048),
        ("color", "white"),
        ("background", "#12345"),
        ("url", "javascript:alert(1)"),
        ("domain", "http://coupons.example.com"),
        ("tmplIdx", -1),
        ("tmplIdx", "1"),
        ("nm", "x" * 101),
        ("memo", "x" * 1001),
    ],
)
def test_a_bad_setting_is_refused_naming_it(api: Api, name: str, value: object) -> None:
    answer = _create(api, **{name: value})
    assert (answer.status, answer.code, answer.body["errors"][0]["field"]) == (400, 4001, name)
    assert api.call("GET", "/group/list").result["items"] == []


def test_update_changes_the_fields_sent_and_keeps_the_others(api: Api) -> None:
    grp_idx = _create(api).result
    assert _update(api, grp_idx, color="#000000", imgUrl="").result == grp_idx
    shown = _get(api, grp_idx).result
    assert (shown["color"], shown["imgUrl"], shown["background"], shown["nm"]) == (
        "#000000",
        "",  # unset: the coupons' own image shows again
        GROUP["background"],
        GROUP["nm"],
    )
    bad = _update(api, grp_idx, color="red", nm="")
    assert [e["field"] for e in bad.body["errors"]] == ["nm", "color"]
    assert _get(api, grp_idx).result["color"] == "#000000"


@pytest.mark.parametrize("grp_idx", ["0", "-1", "abc", "", "2147483648"])
def test_a_group_number_is_a_positive_whole_number(api: Api, grp_idx: str) -> None:
    answer = _get(api, grp_idx)
    assert (answer.status, answer.code, answer.body["errors"][0]["field"]) == (
        400,
        4001,
        "grpIdx",
    )


def test_unknown_deleted_and_foreign_groups_are_not_found(api: Api, other_api: Api) -> None:
    assert (_get(api, 99).status, _get(api, 99).code) == (404, 4042)
    theirs = _create(other_api, nm="theirs").result
    mine = _create(api).result
    assert mine == theirs == 1  # the same number, two groups
    other = _create(other_api).result
    assert _get(api, other).code == 4042
    assert _update(api, other, nm="mine now").code == 4042
    assert _delete(api, other).code == 4042
    assert _get(other_api, other).result["nm"] == GROUP["nm"]  # untouched
    assert _get(other_api, theirs).result["nm"] == "theirs"
    assert _delete(api, mine).result is None
    assert _get(api, mine).code == 4042
    assert _delete(api, mine).code == 4042
    assert _update(api, mine, nm="back?").code == 4042
    assert _create(api).result == mine + 1  # a number is never given twice


def test_groups_list_in_number_order_a_page_at_a_time(api: Api, other_api: Api) -> None:
    created = [_create(api, nm=f"g{i}").result for i in range(5)]
    _create(other_api)
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/group/list", query=query).result
        seen += [item["grpIdx"] for item in page["items"]]
        assert all(item["couponCnt"] == 0 for item in page["items"])
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == created
    foreign = other_api.call("GET", "/group/list", query={"limit": "2"}).result
    assert len(foreign["items"]) == 1 and foreign["cursor"] is None
    # A template list's cursor does not continue a group list (scoped by kind and account).
    _template(api), _template(api)
    template_cursor = api.call("GET", "/template/list", query={"limit": "1"}).result["cursor"]
    crossed = api.call("GET", "/group/list", query={"cursor": template_cursor})
    assert (crossed.code, crossed.body["errors"][0]["field"]) == (4001, "cursor")


# --- group settings take priority where a coupon is shown ------------------------------------


def _own(**fields: Any) -> dict[str, Any]:
    """A coupon's own settings (the group's differ in each)."""
    return {
        "color": "#111111",
        "background": "#222222",
        "url": "https://shop.example.com/own",
        "domain": "https://own.example.com",
        **fields,
    }


def test_validate_shows_the_groups_settings_over_the_coupons_own(api: Api) -> None:
    grp_idx = _create(api).result
    code = api.create(grpIdx=grp_idx, **_own()).result
    shown = api.validate(code).result
    assert {k: shown[k] for k in SETTINGS} == {
        **{k: GROUP[k] for k in SETTINGS if k != "tmplIdx"},
        "tmplIdx": 0,
    }
    assert shown["grpIdx"] == grp_idx


def test_a_setting_the_group_leaves_unset_shows_the_coupons_own(api: Api) -> None:
    grp_idx = api.call("POST", "/group/create", body={"nm": "Logo only", "imgUrl": GROUP["imgUrl"]})
    code = api.create(grpIdx=grp_idx.result, **_own()).result
    shown = api.validate(code).result
    assert shown["imgUrl"] == GROUP["imgUrl"]
    assert {k: shown[k] for k in _own()} == _own()


def test_changing_a_group_changes_all_its_coupons_at_once(api: Api) -> None:
    grp_idx = _create(api).result
    codes = api.create_bulk(3, grpIdx=grp_idx, **_own()).result
    _update(api, grp_idx, color="#ABCDEF", background="")
    for code in codes:
        shown = api.validate(code).result
        assert (shown["color"], shown["background"]) == ("#ABCDEF", _own()["background"])
    listed = api.list(grpIdx=str(grp_idx)).result["items"]
    assert {item["color"] for item in listed} == {"#ABCDEF"}


def test_leaving_the_group_restores_the_coupons_own_values(api: Api) -> None:
    grp_idx = _create(api).result
    code = api.create(grpIdx=grp_idx, **_own()).result
    assert api.update(code, grpIdx=0).code == 0
    shown = api.validate(code).result
    assert {k: shown[k] for k in _own()} == _own()
    assert (shown["imgUrl"], shown["grpIdx"]) == ("", 0)


def test_the_groups_template_takes_priority_over_the_coupons(api: Api) -> None:
    own_template, group_template = _template(api, nm="own"), _template(api, nm="group's")
    grp_idx = _create(api, tmplIdx=group_template).result
    code = api.create(grpIdx=grp_idx, tmplIdx=own_template).result
    shown = api.validate(code).result
    assert (shown["tmplIdx"], shown["template"]["nm"]) == (group_template, "group's")
    _update(api, grp_idx, tmplIdx=0)  # the group sets no template any more
    shown = api.validate(code).result
    assert (shown["tmplIdx"], shown["template"]["nm"]) == (own_template, "own")


def test_list_shows_each_coupon_with_its_groups_settings(api: Api) -> None:
    first, second = _create(api).result, _create(api, imgUrl="https://img.example.com/2.png")
    in_first = api.create(grpIdx=first, **_own()).result
    in_second = api.create(grpIdx=second.result, **_own()).result
    alone = api.create(**_own()).result
    shown = {item["cpnNo"]: item for item in api.list().result["items"]}
    assert shown[in_first]["imgUrl"] == GROUP["imgUrl"]
    assert shown[in_second]["imgUrl"] == "https://img.example.com/2.png"
    assert (shown[alone]["imgUrl"], shown[alone]["color"]) == ("", _own()["color"])
    only_second = api.list(grpIdx=str(second.result)).result["items"]
    assert [(item["cpnNo"], item["color"]) for item in only_second] == [(in_second, GROUP["color"])]


def test_requests_of_validate_and_list_by_group(api: Api, dynamodb_requests: list[str]) -> None:
    plain = api.create().result
    grp_idx = _create(api).result
    grouped = api.create(grpIdx=grp_idx).result
    templated_group = _create(api, tmplIdx=_template(api)).result
    with_template = api.create(grpIdx=templated_group).result
    api.create_bulk(5, grpIdx=grp_idx)
    for code, expected in (
        (plain, ["GetItem"]),  # DESIGN 6: one request, 0.5 RCU
        (grouped, ["GetItem", "GetItem"]),  # the coupon, its group
        (with_template, ["GetItem", "GetItem", "GetItem"]),  # and the group's template
    ):
        dynamodb_requests.clear()
        assert api.validate(code).code == 0
        assert dynamodb_requests == expected, code
    for query, expected in (
        # the index, the coupons, their (three) groups: one BatchGetItem each
        ({}, ["Query", "BatchGetItem", "BatchGetItem"]),
        ({"grpIdx": str(grp_idx)}, ["Query", "BatchGetItem", "BatchGetItem"]),
        ({"grpIdx": "0"}, ["Query", "BatchGetItem"]),  # coupons in no group: no group read
    ):
        dynamodb_requests.clear()
        assert api.list(**query).code == 0
        assert dynamodb_requests[-len(expected) :] == expected, query


def test_another_accounts_group_of_the_same_number_is_never_shown(api: Api, other_api: Api) -> None:
    _create(other_api, imgUrl="https://theirs.example.com/x.png")
    mine = _create(api).result
    code = api.create(grpIdx=mine).result
    assert api.validate(code).result["imgUrl"] == GROUP["imgUrl"]
    assert api.list().result["items"][0]["imgUrl"] == GROUP["imgUrl"]


# --- references: only to what exists, and what is referred to stays ------------------------


def test_a_coupon_refers_only_to_a_group_of_its_account(api: Api, other_api: Api) -> None:
    theirs = _create(other_api).result
    for answer in (
        api.create(grpIdx=5),
        api.create(grpIdx=theirs),
        api.create_bulk(3, grpIdx=theirs),
    ):
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "grpIdx")
    assert api.list().result["items"] == []  # nothing was written
    code = api.create().result
    edit = api.update(code, grpIdx=theirs)
    assert (edit.code, edit.body["errors"][0]["field"]) == (4001, "grpIdx")
    assert api.validate(code).result["grpIdx"] == 0
    assert _get(other_api, theirs).result["couponCnt"] == 0


def test_a_group_coupons_refer_to_is_deleted_only_once_none_does(api: Api) -> None:
    grp_idx = _create(api).result
    single = api.create(grpIdx=grp_idx).result
    batch = api.create_bulk(100, grpIdx=grp_idx).result  # 100 puts: the counts come first
    assert _get(api, grp_idx).result["couponCnt"] == 101
    answer = _delete(api, grp_idx)
    assert (answer.status, answer.code) == (409, 4093)
    for code in batch:
        assert api.delete(code).code == 0
    assert _delete(api, grp_idx).code == 4093  # one coupon still refers to it
    api.redeem(single)  # a coupon with redemption records: they move out, the count goes
    assert api.delete(single).code == 0
    assert _get(api, grp_idx).result["couponCnt"] == 0
    assert _delete(api, grp_idx).code == 0


def test_moving_a_coupon_to_another_group_moves_the_count(api: Api) -> None:
    first, second = _create(api).result, _create(api).result
    code = api.create(grpIdx=first).result
    assert api.update(code, grpIdx=second).code == 0
    assert [_get(api, g).result["couponCnt"] for g in (first, second)] == [0, 1]
    assert _delete(api, first).code == 0
    assert _delete(api, second).code == 4093
    assert api.update(code, grpIdx=0).code == 0  # in no group any more
    assert _delete(api, second).code == 0


def test_a_coupon_in_a_group_and_a_template_counts_on_both(api: Api) -> None:
    tmpl_idx = _template(api)
    grp_idx = _create(api).result
    code = api.create(grpIdx=grp_idx, tmplIdx=tmpl_idx).result
    codes = api.create_bulk(3, grpIdx=grp_idx, tmplIdx=tmpl_idx).result
    assert _get(api, grp_idx).result["couponCnt"] == 4
    assert _delete_template(api, tmpl_idx).code == 4093
    for each in [code, *codes]:
        assert api.delete(each).code == 0
    assert _delete(api, grp_idx).code == 0
    assert _delete_template(api, tmpl_idx).code == 0


def test_a_refused_bulk_batch_takes_its_counts_back(api: Api) -> None:
    """The group is counted first; the missing template refuses the batch; the group's count
    goes back to what it was."""
    grp_idx = _create(api).result
    answer = api.create_bulk(5, grpIdx=grp_idx, tmplIdx=42)
    assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "tmplIdx")
    assert _get(api, grp_idx).result["couponCnt"] == 0
    assert _delete(api, grp_idx).code == 0


def test_a_group_refers_only_to_a_template_of_its_account(api: Api, other_api: Api) -> None:
    theirs = _template(other_api)
    mine = _template(api, nm="mine")
    for answer in (_create(api, tmplIdx=theirs + 5), _update(api, _create(api).result, tmplIdx=9)):
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "tmplIdx")
    grp_idx = _create(api, tmplIdx=mine).result
    assert _get(api, grp_idx).result["tmplIdx"] == mine
    assert _delete_template(api, mine).code == 4093  # the group refers to it
    assert _delete_template(other_api, theirs).code == 0


def test_a_group_moving_to_another_template_moves_the_count(api: Api) -> None:
    first, second = _template(api), _template(api)
    grp_idx = _create(api, tmplIdx=first).result
    assert _update(api, grp_idx, tmplIdx=second).code == 0
    assert _delete_template(api, first).code == 0
    assert _delete_template(api, second).code == 4093
    assert _delete(api, grp_idx).code == 0  # the deleted group counts on it no more
    assert _delete_template(api, second).code == 0


def test_a_coupon_made_before_groups_keeps_its_number(api: Api) -> None:
    """A grpIdx stored before groups existed is not counted: the coupon shows its own
    settings, even once a group of that number is made (which it could otherwise be deleted
    under), until an update names the number again and counts it there."""
    code = api.create(**_own()).result
    _store_uncounted(api, code, grpIdx=1)
    shown = api.validate(code).result
    assert (shown["grpIdx"], shown["color"], shown["imgUrl"]) == (1, _own()["color"], "")
    assert [item["cpnNo"] for item in api.list(grpIdx="1").result["items"]] == [code]
    assert api.update(code, memo="still editable").code == 0
    grp_idx = _create(api).result
    assert grp_idx == 1
    assert api.validate(code).result["color"] == _own()["color"]
    assert _get(api, grp_idx).result["couponCnt"] == 0
    assert api.update(code, grpIdx=1).code == 0  # the same number, sent again: counted now
    assert api.validate(code).result["color"] == GROUP["color"]
    assert _get(api, grp_idx).result["couponCnt"] == 1
    assert _delete(api, grp_idx).code == 4093
    assert api.delete(code).code == 0
    assert _delete(api, grp_idx).code == 0


def test_an_uncounted_coupon_leaves_its_number_and_is_deleted_as_before(api: Api) -> None:
    code = api.create().result
    _store_uncounted(api, code, grpIdx=7, tmplIdx=3)
    assert api.validate(code).result["template"] is None
    assert api.update(code, grpIdx=0).code == 0  # leaves the number, counted nowhere
    assert api.delete(code).code == 0


def _store_uncounted(api: Api, code: str, **numbers: int) -> None:
    """Give a coupon numbers without counting it, as one stored before groups existed."""
    from coupons.store import coupons as coupon_items

    stored = coupon_items.get(account_of(api), code, consistent=True)
    assert stored is not None
    coupon_items.update(
        account_of(api), code, numbers, instance=stored["cid"], version=None, unused_only=False
    )


def test_the_stored_reference_names_are_the_coupons() -> None:
    from coupons.records import StoredCoupon
    from coupons.store.numbered import GROUPS, TEMPLATES

    assert {GROUPS.ref, TEMPLATES.ref} <= set(StoredCoupon.__annotations__)


# --- counts when DynamoDB's answer is lost, and counts lost outside these writes -------------


def test_a_batch_whose_answer_is_lost_keeps_its_counts(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch was written but its answer never came (503): the counts stay, so the group
    cannot be deleted under the coupons the merchant will find in it."""
    from coupons.errors import storage_busy
    from coupons.store import client
    from coupons.store import coupons as coupon_items

    real = client.transact

    def written_then_lost(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise storage_busy()

    grp_idx = _create(api).result
    monkeypatch.setattr(coupon_items, "transact", written_then_lost)
    answer = api.create_bulk(3, grpIdx=grp_idx)
    monkeypatch.undo()
    assert (answer.status, answer.code) == (503, 5030)
    assert len(api.list(grpIdx=str(grp_idx)).result["items"]) == 3
    assert _get(api, grp_idx).result["couponCnt"] == 3
    assert _delete(api, grp_idx).code == 4093


def test_a_coupon_whose_group_item_is_gone_is_still_moved_and_deleted(api: Api) -> None:
    """A group can't be deleted while counted on; if its item goes anyway (by hand, say), the
    coupons counted on it still leave it and are deleted, instead of failing every time."""
    from coupons.store.client import request
    from coupons.store.numbered import GROUPS

    grp_idx = _create(api).result
    moved, deleted = api.create(grpIdx=grp_idx).result, api.create(grpIdx=grp_idx).result
    key = GROUPS.key(account_of(api), grp_idx)
    request(lambda db, table: db.delete_item(TableName=table, Key=key))
    assert api.validate(moved).result["color"] == "#4F4F4FFF"  # no group: its own
    assert api.update(moved, grpIdx=0).code == 0
    assert api.delete(deleted).code == 0
    assert api.delete(moved).code == 0
