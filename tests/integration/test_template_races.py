"""Templates and the coupons that refer to them, racing on the real engine with real threads
(DESIGN 2.7): a coupon is counted on its template in the same transaction as its own write,
and a template is deleted only while its count is 0, so no interleaving leaves a coupon
referring to a deleted template, or deletes a template a coupon refers to."""

from collections import Counter
from functools import partial

import pytest

from tests.conftest import Api, Response
from tests.integration.conftest import in_parallel

pytestmark = pytest.mark.integration


def _template(api: Api) -> int:
    return int(api.call("POST", "/template/create", body={"nm": "race"}).result)


def _delete(api: Api, tmpl_idx: int) -> Response:
    return api.call("DELETE", "/template/delete", query={"tmplIdx": str(tmpl_idx)})


def _exists(api: Api, tmpl_idx: int) -> bool:
    return api.call("GET", "/template", query={"tmplIdx": str(tmpl_idx)}).code == 0


def test_a_coupon_and_a_delete_of_its_template_racing(api: Api) -> None:
    outcomes: Counter[tuple[int, int]] = Counter()
    for _ in range(20):
        tmpl_idx = _template(api)
        created, deleted = in_parallel(
            [partial(api.create, tmplIdx=tmpl_idx), partial(_delete, api, tmpl_idx)], workers=2
        )
        outcomes[(created.code, deleted.code)] += 1
        if created.code == 0:  # the coupon came first: the template stays
            assert deleted.code == 4093 and _exists(api, tmpl_idx)
            assert api.validate(created.result).result["template"]["nm"] == "race"
        else:  # the delete came first: no coupon refers to the template it deleted
            assert (created.code, deleted.code) == (4001, 0) and not _exists(api, tmpl_idx)
    assert set(outcomes) <= {(0, 4093), (4001, 0)}


def test_many_coupons_and_deletes_keep_the_count_exact(api: Api) -> None:
    """20 coupons created and 5 deletes of the template at once, then the coupons deleted
    concurrently: the template is deleted exactly when the last coupon is gone."""
    tmpl_idx = _template(api)
    calls = [partial(api.create, tmplIdx=tmpl_idx) for _ in range(20)]
    calls += [partial(_delete, api, tmpl_idx) for _ in range(5)]
    answers = in_parallel(calls)
    created = [a.result for a in answers[:20] if a.code == 0]
    deletes = Counter(a.code for a in answers[20:])
    if deletes[0]:  # a delete came before every coupon: the later coupons were refused
        assert not _exists(api, tmpl_idx)
        assert {a.code for a in answers[:20] if a.code} == {4001}
        return
    assert created and deletes == {4093: 5}
    removed = in_parallel([partial(api.delete, code) for code in created[:-1]])
    assert {a.code for a in removed} == {0}
    assert _delete(api, tmpl_idx).code == 4093  # the last coupon still refers to it
    assert api.delete(created[-1]).code == 0
    assert _delete(api, tmpl_idx).code == 0
