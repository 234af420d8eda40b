"""Groups and what refers to them, racing on the real engine with real threads (DESIGN 2.7): a
coupon is counted on its group (and a group on its template) in the same transaction as its own
write, and a group or template is deleted only while its count is 0, so no interleaving leaves
a coupon in a deleted group, or deletes a group a coupon is in."""

from collections import Counter
from functools import partial

import pytest

from tests.conftest import Api, Response
from tests.integration.conftest import in_parallel

pytestmark = pytest.mark.integration


def _group(api: Api, **fields: object) -> int:
    made = api.call("POST", "/group/create", body={"nm": "race", **fields})
    assert made.code == 0, made.body
    return int(made.result)


def _delete(api: Api, grp_idx: int) -> Response:
    return api.call("DELETE", "/group/delete", query={"grpIdx": str(grp_idx)})


def _coupon_count(api: Api, grp_idx: int) -> int | None:
    """The group's couponCnt; None when there is no group."""
    found = api.call("GET", "/group", query={"grpIdx": str(grp_idx)})
    return None if found.code == 4042 else int(found.result["couponCnt"])


def _listed(api: Api, grp_idx: int) -> list[str]:
    return [c["cpnNo"] for c in api.list(grpIdx=str(grp_idx), limit="100").result["items"]]


def test_a_coupon_and_a_delete_of_its_group_racing(api: Api) -> None:
    outcomes: Counter[tuple[int, int]] = Counter()
    for _ in range(20):
        grp_idx = _group(api, imgUrl="https://img.example.com/race.png")
        created, deleted = in_parallel(
            [partial(api.create, grpIdx=grp_idx), partial(_delete, api, grp_idx)], workers=2
        )
        outcomes[(created.code, deleted.code)] += 1
        if created.code == 0:  # the coupon came first: the group stays, and shows
            assert deleted.code == 4093 and _coupon_count(api, grp_idx) == 1
            shown = api.validate(created.result).result
            assert shown["imgUrl"] == "https://img.example.com/race.png"
        else:  # the delete came first: no coupon is in the group it deleted
            assert (created.code, deleted.code) == (4001, 0)
            assert _coupon_count(api, grp_idx) is None and _listed(api, grp_idx) == []
    assert set(outcomes) <= {(0, 4093), (4001, 0)}


def test_a_bulk_batch_and_a_delete_of_its_group_racing(api: Api) -> None:
    """A batch counts on its group first and takes the count back if it is not written: all
    of it lands in a group that stays, or none of it and the group is gone."""
    outcomes: Counter[tuple[int, int]] = Counter()
    for _ in range(10):
        grp_idx = _group(api)
        made, deleted = in_parallel(
            [partial(api.create_bulk, 20, grpIdx=grp_idx), partial(_delete, api, grp_idx)],
            workers=2,
        )
        outcomes[(made.code, deleted.code)] += 1
        if made.code == 0:
            assert deleted.code == 4093 and _coupon_count(api, grp_idx) == 20
            assert sorted(_listed(api, grp_idx)) == sorted(made.result)
        else:
            assert (made.code, deleted.code) == (4001, 0)
            assert _coupon_count(api, grp_idx) is None and _listed(api, grp_idx) == []
    assert set(outcomes) <= {(0, 4093), (4001, 0)}


def test_creates_moves_and_deletes_at_once_keep_every_count_exact(api: Api) -> None:
    """20 coupons created in group A, 10 existing ones moved from A to B, 5 of A's deleted and
    deletes of both groups, all at once: each group's couponCnt is then exactly the coupons in
    it, and neither group was deleted while a coupon was in it."""
    first, second = _group(api), _group(api)
    existing = api.create_bulk(15, grpIdx=first).result
    calls = [partial(api.create, grpIdx=first) for _ in range(20)]
    calls += [partial(api.update, code, grpIdx=second) for code in existing[:10]]
    calls += [partial(api.delete, code) for code in existing[10:]]
    calls += [partial(_delete, api, first), partial(_delete, api, second)]
    answers = in_parallel(calls)
    created, moved, deleted = answers[:20], answers[20:30], answers[30:35]
    assert {a.code for a in created + deleted} == {0}
    assert answers[-2].code == 4093  # A has coupons throughout
    if answers[-1].code == 0:  # B deleted before any move landed: every move refused
        assert {a.code for a in moved} == {4001} and _coupon_count(api, second) is None
        expected = (30, 0)
    else:  # a move landed first: B was never empty again
        assert answers[-1].code == 4093 and {a.code for a in moved} == {0}
        expected = (20, 10)
    in_first, in_second = _listed(api, first), _listed(api, second)
    assert (len(in_first), len(in_second)) == expected
    assert (_coupon_count(api, first), _coupon_count(api, second) or 0) == expected
    removed = in_parallel([partial(api.delete, code) for code in in_first + in_second])
    assert {a.code for a in removed} == {0}
    assert _delete(api, first).code == 0
    assert _coupon_count(api, second) in (None, 0)


def test_a_group_and_a_delete_of_its_template_racing(api: Api) -> None:
    outcomes: Counter[tuple[int, int]] = Counter()
    for _ in range(20):
        tmpl_idx = int(api.call("POST", "/template/create", body={"nm": "race"}).result)
        made, deleted = in_parallel(
            [
                partial(api.call, "POST", "/group/create", body={"nm": "g", "tmplIdx": tmpl_idx}),
                partial(api.call, "DELETE", "/template/delete", query={"tmplIdx": str(tmpl_idx)}),
            ],
            workers=2,
        )
        outcomes[(made.code, deleted.code)] += 1
        exists = api.call("GET", "/template", query={"tmplIdx": str(tmpl_idx)}).code == 0
        if made.code == 0:
            assert deleted.code == 4093 and exists
        else:
            assert (made.code, deleted.code) == (4001, 0) and not exists
    assert set(outcomes) <= {(0, 4093), (4001, 0)}
