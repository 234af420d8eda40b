"""Coupon templates (DESIGN 2.7): numbered per account from 1, created, read, listed, edited
in part and deleted; another account's numbers are as if they did not exist."""

from typing import Any

import pytest

from coupons.store.client import request
from coupons.store.numbered import TEMPLATES
from tests.conftest import Api, Response, account_of

TEXT = {
    "nm": "Spring sale",
    "description": "10% off everything.\nOnce per order.",
    "usage": "Show this page at the till.",
    "precautions": "Not valid with other offers.",
}


def _create(api: Api, **fields: Any) -> Response:
    return api.call("POST", "/template/create", body={**TEXT, **fields})


def _get(api: Api, tmpl_idx: object) -> Response:
    return api.call("GET", "/template", query={"tmplIdx": str(tmpl_idx)})


def test_templates_are_numbered_from_1_per_account(api: Api, other_api: Api) -> None:
    assert [_create(api).result for _ in range(3)] == [1, 2, 3]
    assert _create(other_api).result == 1


def test_a_template_reads_back_as_written_newlines_kept(api: Api) -> None:
    tmpl_idx = _create(api, nm="  Spring sale  ").result
    shown = _get(api, tmpl_idx).result
    assert {k: shown[k] for k in TEXT} == TEXT
    assert shown["tmplIdx"] == tmpl_idx
    assert len(shown["regYmdt"]) == len("2026-11-30 09:00:00")


def test_only_the_name_is_required_and_each_text_has_its_limit(api: Api) -> None:
    assert _get(api, _create(api, description="", usage="", precautions="").result).code == 0
    missing = api.call("POST", "/template/create", body={"usage": "x"})
    assert (missing.code, missing.body["errors"][0]["field"]) == (4001, "nm")
    long = _create(api, precautions="x" * 2001)
    assert (long.code, long.body["errors"][0]["field"]) == (4001, "precautions")


def test_update_changes_the_fields_sent_and_keeps_the_others(api: Api) -> None:
    tmpl_idx = _create(api).result
    answer = api.call("PUT", "/template/update", body={"tmplIdx": tmpl_idx, "usage": "Online."})
    assert answer.result == tmpl_idx
    shown = _get(api, tmpl_idx).result
    assert (shown["usage"], shown["nm"], shown["precautions"]) == (
        "Online.",
        TEXT["nm"],
        TEXT["precautions"],
    )
    emptied = api.call("PUT", "/template/update", body={"tmplIdx": tmpl_idx, "nm": ""})
    assert (emptied.code, emptied.body["errors"][0]["field"]) == (4001, "nm")
    assert _get(api, tmpl_idx).result["nm"] == TEXT["nm"]


@pytest.mark.parametrize("tmpl_idx", ["0", "-1", "abc", "", "2147483648"])
def test_a_template_number_is_a_positive_whole_number(api: Api, tmpl_idx: str) -> None:
    answer = _get(api, tmpl_idx)
    assert (answer.status, answer.code, answer.body["errors"][0]["field"]) == (
        400,
        4001,
        "tmplIdx",
    )


def test_unknown_deleted_and_foreign_templates_are_not_found(api: Api, other_api: Api) -> None:
    assert (_get(api, 99).status, _get(api, 99).code) == (404, 4043)
    theirs = _create(other_api).result
    assert _get(api, theirs).code == 4043
    edit = api.call("PUT", "/template/update", body={"tmplIdx": theirs, "nm": "mine now"})
    assert edit.code == 4043
    assert api.call("DELETE", "/template/delete", query={"tmplIdx": str(theirs)}).code == 4043
    assert _get(other_api, theirs).result["nm"] == TEXT["nm"]  # untouched
    mine = _create(api).result
    assert api.call("DELETE", "/template/delete", query={"tmplIdx": str(mine)}).result is None
    assert _get(api, mine).code == 4043
    assert api.call("DELETE", "/template/delete", query={"tmplIdx": str(mine)}).code == 4043
    # A number is never given twice, even after a delete.
    assert _create(api).result == mine + 1


def test_a_template_something_refers_to_is_not_deleted(api: Api) -> None:
    tmpl_idx = _create(api).result
    key = TEMPLATES.key(account_of(api), tmpl_idx)
    request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET refCnt = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    )
    answer = api.call("DELETE", "/template/delete", query={"tmplIdx": str(tmpl_idx)})
    assert (answer.status, answer.code) == (409, 4093)
    assert _get(api, tmpl_idx).code == 0


def test_templates_list_in_number_order_a_page_at_a_time(api: Api, other_api: Api) -> None:
    created = [_create(api, nm=f"t{i}").result for i in range(5)]
    _create(other_api)
    seen: list[int] = []
    cursor = None
    while True:
        page = api.call(
            "GET", "/template/list", query={"limit": "2", **({"cursor": cursor} if cursor else {})}
        ).result
        seen += [item["tmplIdx"] for item in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == created
    foreign = other_api.call("GET", "/template/list", query={"limit": "2"}).result
    assert len(foreign["items"]) == 1 and foreign["cursor"] is None
    tampered = api.call("GET", "/template/list", query={"cursor": "x.y"})
    assert (tampered.code, tampered.body["errors"][0]["field"]) == (4001, "cursor")


def test_validate_shows_the_coupons_template(api: Api) -> None:
    tmpl_idx = _create(api).result
    with_template = api.create(tmplIdx=tmpl_idx).result
    assert api.validate(with_template).result["template"] == TEXT
    api.call("PUT", "/template/update", body={"tmplIdx": tmpl_idx, "usage": "Online only."})
    assert api.validate(with_template).result["template"]["usage"] == "Online only."
    # No template: no text (a number with none behind it: see the coupon made before
    # templates, below).
    assert api.validate(api.create().result).result["template"] is None


def test_validate_reads_the_template_only_for_a_coupon_that_has_one(
    api: Api, dynamodb_requests: list[str]
) -> None:
    plain = api.create().result
    templated = api.create(tmplIdx=_create(api).result).result
    dynamodb_requests.clear()
    api.validate(plain)
    assert dynamodb_requests == ["GetItem"]
    dynamodb_requests.clear()
    api.validate(templated)
    assert dynamodb_requests == ["GetItem", "GetItem"]


# --- coupons refer only to templates that exist, and keep them from being deleted ---------


def _delete(api: Api, tmpl_idx: int) -> Response:
    return api.call("DELETE", "/template/delete", query={"tmplIdx": str(tmpl_idx)})


def test_a_coupon_refers_only_to_a_template_of_its_account(api: Api, other_api: Api) -> None:
    theirs = _create(other_api).result
    for answer in (
        api.create(tmplIdx=5),
        api.create(tmplIdx=theirs),
        api.create_bulk(3, tmplIdx=5),
    ):
        assert (answer.code, answer.body["errors"][0]["field"]) == (4001, "tmplIdx")
    assert api.list().result["items"] == []  # nothing was written
    code = api.create().result
    edit = api.update(code, tmplIdx=theirs)
    assert (edit.code, edit.body["errors"][0]["field"]) == (4001, "tmplIdx")
    assert api.validate(code).result["tmplIdx"] == 0


def test_a_template_coupons_refer_to_is_deleted_only_once_none_does(api: Api) -> None:
    tmpl_idx = _create(api).result
    single = api.create(tmplIdx=tmpl_idx).result
    batch = api.create_bulk(100, tmplIdx=tmpl_idx).result  # 100 puts: the count comes first
    assert _delete(api, tmpl_idx).code == 4093
    for code in batch:
        assert api.delete(code).code == 0
    assert _delete(api, tmpl_idx).code == 4093  # one coupon still refers to it
    api.redeem(single)  # a coupon with redemption records: they move out, the count goes
    assert api.delete(single).code == 0
    assert _delete(api, tmpl_idx).code == 0


def test_moving_a_coupon_to_another_template_moves_the_count(api: Api) -> None:
    first, second = _create(api).result, _create(api).result
    code = api.create(tmplIdx=first).result
    assert api.update(code, tmplIdx=second).code == 0
    assert _delete(api, first).code == 0
    assert _delete(api, second).code == 4093
    assert api.update(code, tmplIdx=0).code == 0  # no template any more
    assert _delete(api, second).code == 0


def test_a_coupon_made_before_templates_keeps_its_number(api: Api) -> None:
    """A tmplIdx stored before templates existed is not counted: the coupon is deleted and
    edited as before, and shows no template text."""
    from coupons.store import coupons as coupon_items

    code = api.create().result
    coupon_items.update(
        account_of(api), code, {"tmplIdx": 12}, instance=_cid(api, code), version=None,
        unused_only=False,
    )  # fmt: skip
    assert api.validate(code).result["template"] is None
    assert api.update(code, memo="still editable").code == 0
    assert api.delete(code).code == 0


def _cid(api: Api, code: str) -> str:
    from coupons.store import coupons as coupon_items

    stored = coupon_items.get(account_of(api), code, consistent=True)
    assert stored is not None
    return stored["cid"]
