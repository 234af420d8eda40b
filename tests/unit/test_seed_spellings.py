"""The seed pages' spellings (DESIGN 2.6): cpNo, cpNoDigits, webhookEnablYn and userPhone are
read as cpnNo, cpnNoDigits, webhookEnableYn and userPhnno wherever the real name is, in bodies
and query strings; the real name wins when both are sent; errors name the real field."""

from typing import Any

import pytest

from coupons import clock, models, queries, rules
from coupons.errors import CouponError
from devstack.samples import coupon_fields
from tests.conftest import Api

BODIES: list[type[models.Body]] = [
    models.CreateRequest,
    models.BulkCreateRequest,
    models.UpdateRequest,
    models.RedeemRequest,
    models.CancelRequest,
]


def test_every_seed_spelling_names_a_field_and_no_field() -> None:
    fields = {name for model in BODIES for name in model.fields()} | set(models.TERM_FIELDS)
    assert set(rules.SEED_SPELLINGS) <= fields
    assert not set(rules.SEED_SPELLINGS.values()) & fields


def test_each_body_field_with_a_seed_spelling_lists_it_in_its_json_schema() -> None:
    for model in BODIES:
        properties = model.model_json_schema()["properties"]
        assert not set(rules.SEED_SPELLINGS.values()) & set(properties)  # not fields of their own
        for name, prop in properties.items():
            aliases = [alias["name"] for alias in prop.get("x-aliases", [])]
            expected = [rules.SEED_SPELLINGS[name]] if name in rules.SEED_SPELLINGS else []
            assert aliases == expected, (model.__name__, name)
            assert all(alias["deprecated"] for alias in prop.get("x-aliases", []))


def test_the_parser_reads_seed_spellings_and_prefers_the_real_names() -> None:
    def create(**fields: Any) -> models.CreateRequest:
        body = coupon_fields(**fields)
        return models.parse(models.CreateRequest, body, today=clock.today())

    seed = create(cpNo="SEED1234", cpNoDigits=8, webhookEnablYn="Y", userPhone="010")
    assert (seed.cpnNo, seed.cpnNoDigits, seed.webhookEnableYn, seed.userPhnno) == (
        "SEED1234",
        8,
        "Y",
        "010",
    )
    both = create(
        cpnNo="REAL1234",
        cpNo="SEED1234",
        cpnNoDigits=12,
        cpNoDigits=8,
        webhookEnableYn="N",
        webhookEnablYn="Y",
        userPhnno="020",
        userPhone="010",
    )
    assert (both.cpnNo, both.cpnNoDigits, both.webhookEnableYn, both.userPhnno) == (
        "REAL1234",
        12,
        "N",
        "020",
    )
    # A seed spelling beside its real name is ignored, even when it would be invalid; JSON
    # null is absent, so a null real name leaves the seed spelling to be read.
    assert create(cpnNoDigits=8, cpNoDigits="x", userPhone=5, userPhnno="1").cpnNoDigits == 8
    assert create(cpnNo=None, cpNo="SEED1234").cpnNo == "SEED1234"
    with pytest.raises(CouponError) as refused:
        create(webhookEnablYn="maybe", cpNoDigits=10)
    assert [e.field for e in refused.value.errors] == ["webhookEnableYn", "cpnNoDigits"]


def test_the_query_strings_read_seed_spellings_and_prefer_the_real_names() -> None:
    assert queries.CodeQuery.parse({"cpNo": "seed-1234"}).cpnNo == "SEED1234"
    assert queries.ValidateQuery.parse({"cpNo": "SEED1234", "userId": "u"}).cpnNo == "SEED1234"
    assert queries.HistoryQuery.parse({"cpNo": "SEED1234"}).cpnNo == "SEED1234"
    both = {"cpnNo": "REAL1234", "cpNo": "SEED1234"}
    for query in (queries.CodeQuery, queries.ValidateQuery, queries.HistoryQuery):
        assert query.parse(both).cpnNo == "REAL1234"
        assert query.parse({"cpnNo": "REAL1234", "cpNo": "?"}).cpnNo == "REAL1234"


# --- through the handlers --------------------------------------------------------------------


def _body(**fields: Any) -> dict[str, Any]:
    return coupon_fields(**fields)


def test_create_accepts_every_seed_spelling(api: Api) -> None:
    given = api.call(
        "POST", "/create", body=_body(cpNo="seed-0001", webhookEnablYn="Y", userPhone="010-1")
    )
    assert given.result == "SEED0001", given.body
    coupon = api.validate("SEED0001").result
    assert (coupon["webhookEnableYn"], coupon["userPhnno"]) == ("Y", "010-1")
    generated = api.call("POST", "/create", body=_body(cpNoDigits=8))
    assert len(generated.result) == 8, generated.body


def test_create_prefers_the_real_names(api: Api) -> None:
    body = _body(
        cpnNo="REAL0001",
        cpNo="SEED0002",
        webhookEnableYn="N",
        webhookEnablYn="Y",
        userPhnno="real",
        userPhone="seed",
    )
    assert api.call("POST", "/create", body=body).result == "REAL0001"
    coupon = api.validate("REAL0001").result
    assert (coupon["webhookEnableYn"], coupon["userPhnno"]) == ("N", "real")
    assert api.validate("SEED0002").code == 4040
    generated = api.call("POST", "/create", body=_body(cpnNoDigits=12, cpNoDigits=8))
    assert len(generated.result) == 12


def test_bulk_create_accepts_the_seed_spellings_and_refuses_cp_no_as_cpn_no(api: Api) -> None:
    fields = {"count": 2, **_body(cpNoDigits=8, webhookEnablYn="Y", userPhone="010")}
    codes = api.call("POST", "/create/bulk", body=fields).result
    assert [len(code) for code in codes] == [8, 8]
    coupon = api.validate(codes[0]).result
    assert (coupon["webhookEnableYn"], coupon["userPhnno"]) == ("Y", "010")
    both = {"count": 1, **_body(cpnNoDigits=12, cpNoDigits=8, webhookEnableYn="N")}
    assert [len(code) for code in api.call("POST", "/create/bulk", body=both).result] == [12]
    refused = api.call("POST", "/create/bulk", body={"count": 1, **_body(cpNo="SEED0003")})
    assert refused.code == 4001 and refused.body["errors"][0]["field"] == "cpnNo"


def test_update_accepts_the_seed_spellings_and_prefers_the_real_names(api: Api) -> None:
    code = api.create(cpnNo="UPDATE001").result
    seed = {"cpNo": "update-001", "webhookEnablYn": "Y", "userPhone": "010"}
    assert api.call("PUT", "/update", body=seed).result == code
    coupon = api.validate(code).result
    assert (coupon["webhookEnableYn"], coupon["userPhnno"]) == ("Y", "010")
    both = {
        "cpnNo": code,
        "cpNo": "NOSUCHCODE",
        "webhookEnableYn": "N",
        "webhookEnablYn": "Y",
        "userPhnno": "020",
        "userPhone": "030",
    }
    assert api.call("PUT", "/update", body=both).result == code
    coupon = api.validate(code).result
    assert (coupon["webhookEnableYn"], coupon["userPhnno"]) == ("N", "020")
    refused = api.call("PUT", "/update", body={"cpNo": code, "webhookEnablYn": "maybe"})
    assert refused.code == 4001
    assert [e["field"] for e in refused.body["errors"]] == ["webhookEnableYn"]
    assert refused.body["message"] == "Invalid field: webhookEnableYn."


def test_redeem_and_cancel_accept_cp_no_and_prefer_cpn_no(api: Api) -> None:
    code = api.create(cpnNo="REDEEM001", useLimit=0).result
    used = api.call("POST", "/redeem", body={"cpNo": "redeem-001"})
    assert used.code == 0 and used.result["useCnt"] == 1, used.body
    put = api.call("PUT", "/redeem", body={"cpNo": code})
    assert put.result["useCnt"] == 2, put.body
    both = api.call("POST", "/redeem", body={"cpnNo": code, "cpNo": "NOSUCHCODE"})
    assert both.result["useCnt"] == 3, both.body
    cancelled = api.call(
        "POST", "/redeem/cancel", body={"cpNo": code, "rdmId": used.result["rdmId"]}
    )
    assert cancelled.code == 0 and cancelled.result["useCnt"] == 2, cancelled.body
    again = api.call(
        "POST",
        "/redeem/cancel",
        body={"cpnNo": code, "cpNo": "NOSUCHCODE", "rdmId": put.result["rdmId"]},
    )
    assert again.result["useCnt"] == 1, again.body
    missing = api.call("POST", "/redeem", body={"cpNo": None})
    assert [e["field"] for e in missing.body["errors"]] == ["cpnNo"]


def test_query_strings_accept_cp_no_and_prefer_cpn_no(api: Api) -> None:
    code = api.create(cpnNo="QUERY0001", useLimit=0).result
    api.redeem(code)
    assert api.call("GET", "/validate", query={"cpNo": "query-0001"}).result["cpnNo"] == code
    validated = api.call("GET", "/validate", query={"cpnNo": code, "cpNo": "NOSUCHCODE"})
    assert validated.code == 0
    history = api.call("GET", "/redemptions", query={"cpNo": code})
    assert len(history.result["items"]) == 1, history.body
    both = api.call("GET", "/redemptions", query={"cpnNo": code, "cpNo": "NOSUCHCODE"})
    assert len(both.result["items"]) == 1
    assert api.call("DELETE", "/delete", query={"cpnNo": code, "cpNo": "NOSUCHCODE"}).code == 0
    other = api.create(cpnNo="QUERY0002").result
    assert api.call("DELETE", "/delete", query={"cpNo": other}).code == 0
    assert api.validate(other).code == 4040
    refused = api.call("GET", "/validate", query={"cpNo": "short"})
    assert refused.code == 4001 and refused.body["errors"][0]["field"] == "cpnNo"
