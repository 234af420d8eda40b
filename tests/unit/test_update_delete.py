"""PUT /update and DELETE /delete."""

from typing import Any

import pytest

from coupons import auth
from coupons.store import accounts as account_items
from coupons.store import client as store_client
from coupons.store.items import from_item
from coupons.store.keys import COUPON_SK
from tests.conftest import TABLE_NAME, Api


def _coupons_of(api: Api) -> list[dict[str, Any]]:
    assert api.api_key
    record = account_items.get_api_key(auth.key_hash(api.api_key))
    assert record is not None
    response = store_client.client().scan(TableName=TABLE_NAME)
    items = [from_item(item) or {} for item in response["Items"]]
    prefix = f"A#{record['account']}#C#"
    return [i for i in items if str(i["PK"]).startswith(prefix) and i["SK"] == COUPON_SK]


def test_update_changes_present_fields_and_keeps_the_rest(api: Api) -> None:
    code = api.create(cpnNo="EDITME123", memo="m", userId="u", userNm="Brown").result
    updated = api.update("edit-me-123", nm="$7 off", disc=7, userNm="")
    assert (updated.status, updated.body) == (200, {"code": 0, "message": "", "result": code})
    coupon = api.validate(code).result
    assert (coupon["nm"], coupon["disc"], coupon["formatDiscCurrency"]) == ("$7 off", 7.0, "$7")
    assert (coupon["memo"], coupon["userId"], coupon["userNm"]) == ("m", "u", "")


def test_update_validates_the_merged_coupon(api: Api) -> None:
    code = api.create(discTypeIdx=457, disc=50, discCurrency="").result
    # Switching to a fixed amount needs a currency, which the stored coupon lacks.
    refused = api.update(code, discTypeIdx=458)
    assert refused.code == 4001 and refused.body["errors"][0]["field"] == "discCurrency"
    assert api.update(code, useLimit=3).body["errors"][0]["field"] == "userId"
    assert api.update(code, endYmd="2000-01-01").body["errors"][0]["field"] == "endYmd"
    assert api.validate(code).result["discTypeIdx"] == 457


@pytest.mark.parametrize(
    "body",
    [{}, {"cpnNo": ""}, {"cpnNo": "bad"}, {"cpnNo": 123456789}, {"cpnNo": "GOODCODE1", "nm": 5}],
)
def test_update_bad_requests(api: Api, body: dict[str, Any]) -> None:
    api.create(cpnNo="GOODCODE1")
    assert api.call("PUT", "/update", body=body).code == 4001


def test_update_null_means_absent(api: Api) -> None:
    code = api.create(memo="keep", userNm="Brown").result
    assert api.update(code, nm=None, memo=None, userNm=None, disc=7).code == 0
    coupon = api.validate(code).result
    assert (coupon["nm"], coupon["memo"], coupon["userNm"], coupon["disc"]) == (
        "$5 discount coupon",
        "keep",
        "Brown",
        7.0,
    )


def test_update_unknown_coupon(api: Api) -> None:
    assert api.update("NOSUCHCODE", memo="x").code == 4040


def test_used_coupon_only_takes_memo(api: Api) -> None:
    code = api.create(memo="before").result
    api.redeem(code)
    locked = api.update(code, nm="new name", memo="after")
    assert (locked.status, locked.code, locked.result) == (409, 4091, None)
    assert api.update(code, memo="after").code == 0
    # Sending the stored values unchanged alongside memo is not an edit of locked fields.
    assert api.update(code, nm="$5 discount coupon", useLimit=1, memo="again").code == 0
    # Validate refuses a used-up coupon, so look at what is stored.
    stored = [item for item in _coupons_of(api) if item["cpnNo"] == code]
    assert [(c["memo"], c["nm"], c["useCnt"]) for c in stored] == [
        ("again", "$5 discount coupon", 1)
    ]


def test_used_unlimited_coupon_shows_its_memo_edit(api: Api) -> None:
    code = api.create(useLimit=0, memo="before").result
    api.redeem(code)
    assert api.update(code, memo="after").code == 0
    assert api.update(code, disc=6).code == 4091
    coupon = api.validate(code).result
    assert (coupon["memo"], coupon["disc"], coupon["useCnt"]) == ("after", 5.0, 1)


def test_clearing_the_domain_restores_the_deployment_default(api: Api) -> None:
    code = api.create(domain="https://vvd.bz").result
    assert api.update(code, domain="").code == 0
    assert api.validate(code).result["domain"] == "https://coupons.example.com"


def test_update_ignores_cpn_no_digits_and_unknown_fields(api: Api) -> None:
    code = api.create().result
    assert api.update(code, cpnNoDigits=8, whatever=1).code == 0
    assert api.validate(code).result["cpnNo"] == code


def test_delete_then_the_code_can_be_created_again(api: Api) -> None:
    code = api.create(cpnNo="REUSE1234", useLimit=0).result
    api.redeem(code)
    deleted = api.delete("reuse-1234")
    assert (deleted.status, deleted.body) == (200, {"code": 0, "message": "", "result": None})
    assert api.validate(code).code == 4040
    assert api.redeem(code).code == 4040
    assert api.delete(code).code == 4040
    assert api.create(cpnNo=code, useLimit=0).code == 0
    assert api.validate(code).result["useCnt"] == 0


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_write_meeting_a_running_redemption_is_retried(
    api: Api, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    """DynamoDB refuses a plain write to an item inside a running transaction with
    TransactionConflictException, which botocore does not retry; the store does."""
    from botocore.exceptions import ClientError

    code = api.create().result
    real = store_client.client()
    refused: list[str] = []

    class Conflicting:
        def __init__(self, **_: Any) -> None:  # store_client.client(resend=...)
            pass

        def __getattr__(self, name: str) -> Any:
            method = getattr(real, name)
            if name not in ("update_item", "delete_item") or refused:
                return method

            def conflict(**_: Any) -> Any:
                refused.append(name)
                error: Any = {"Error": {"Code": "TransactionConflictException", "Message": "busy"}}
                raise ClientError(error, name)

            return conflict

    monkeypatch.setattr(store_client, "client", Conflicting)
    answer = (
        api.update(code, memo="after the conflict") if operation == "update" else api.delete(code)
    )
    assert answer.code == 0, answer.body
    assert refused  # the first attempt really met the conflict
    monkeypatch.undo()
    if operation == "update":
        assert api.validate(code).result["memo"] == "after the conflict"
    else:
        assert api.validate(code).code == 4040
