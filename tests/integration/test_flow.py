"""The seed pages' flows over HTTP through the local gateway, on DynamoDB Local."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coupons import containers
from coupons.store.client import every_client
from tests.conftest import TABLE_NAME, TOMORROW, YESTERDAY, Api, Dates

pytestmark = pytest.mark.integration


def test_create_validate_redeem_update_delete(api: Api) -> None:
    code = api.create(cpnNo="zjlf-0399-wqbe-qzjm", useLimit=2, userId="x77hu", memo="m").result
    assert code == "ZJLF0399WQBEQZJM"
    coupon = api.validate(code, userId="x77hu").result
    assert (coupon["useCnt"], coupon["formatDiscCurrency"]) == (0, "$5")
    assert api.update(code, disc=6).code == 0
    first = api.redeem(code, userId="x77hu", memo="IP: 210.123.111.222")
    assert first.result["useCnt"] == 1 and first.result["remaining"] == 1
    assert api.update(code, disc=7).code == 4091
    assert api.update(code, memo="edited").code == 0
    second = api.call("PUT", "/redeem", body={"cpnNo": code, "userId": "x77hu"})
    assert second.result == {"rdmId": second.result["rdmId"], "useCnt": 2, "remaining": 0}
    assert api.redeem(code, userId="x77hu").code == 4222
    assert api.delete(code).code == 0
    assert api.validate(code).code == 4040
    assert api.create(cpnNo=code).code == 0
    assert api.validate(code).result["useCnt"] == 0


def test_every_refusal_over_http(api: Api, other_api: Api, dates: Dates) -> None:
    # The gateway runs the handlers on a thread of this process: on the same coupons.clock.
    tomorrow, yesterday = dates.ymd(TOMORROW), dates.ymd(YESTERDAY)
    cases: list[tuple[dict[str, Any], dict[str, Any], int, int]] = [
        ({"strtYmd": tomorrow}, {}, 422, 4220),
        ({"strtYmd": yesterday, "endYmd": yesterday}, {}, 422, 4221),
        ({"useLimit": 2, "userId": "u"}, {}, 422, 4223),
        ({"useLimit": 2, "userId": "u"}, {"userId": "v"}, 422, 4224),
        ({"onsitePwd": "pw"}, {"onsitePwd": "no"}, 422, 4225),
    ]
    for fields, redeem, status, code in cases:
        cpn_no = api.create(**fields).result
        answer = api.redeem(cpn_no, **redeem)
        assert (answer.status, answer.code, answer.result) == (status, code, None)
    mine = api.create().result
    assert other_api.redeem(mine).code == 4040
    assert api.create(cpnNo=mine).status == 409
    assert Api(None, transport=api.transport).validate(mine).status == 401
    assert api.call("GET", "/no/such/route").body["code"] == 4041
    assert api.call("POST", "/create", raw_body=b"[]").body["code"] == 4000


def test_korean_messages_over_http(api: Api) -> None:
    korean = Api(api.api_key, language="ko", transport=api.transport)
    assert korean.validate("NOSUCHCODE").body["message"] == "쿠폰을 찾을 수 없습니다."


@pytest.mark.parametrize(
    "fields", [{}, {"useLimit": 3, "userId": "u1"}, {"useLimit": 0}], ids=["single", "3", "0"]
)
def test_redeem_and_cancel_are_one_request_on_the_engine_in_a_fresh_container(
    api: Api, fields: dict[str, Any]
) -> None:
    """On DynamoDB Local, counting every request (refused ones too): a container that has never
    seen the coupon redeems it, and cancels that, in one UpdateItem each, with exact counts."""
    code = api.create(**fields).result
    user = {"userId": fields["userId"]} if "userId" in fields else {}
    if fields:  # used once elsewhere
        api.redeem(code, **user)
    containers.reset()
    in_process = Api(api.api_key)  # through the in-process handler, so the counter sees it
    in_process.validate(code)  # the API key looked up: not counted below
    sent: list[str] = []
    for watched in every_client():
        watched.meta.events.register(
            "before-call.dynamodb", lambda model, **_: sent.append(model.name)
        )
    redeemed = in_process.redeem(code, **user).result
    assert redeemed["useCnt"] == (2 if fields else 1)
    assert in_process.cancel(code, redeemed["rdmId"]).result["useCnt"] == redeemed["useCnt"] - 1
    assert sent == ["UpdateItem", "UpdateItem"]


def test_coupon_admin_console_script(coupon_table: str) -> None:
    env = {**os.environ, "TABLE_NAME": TABLE_NAME, "AWS_ENDPOINT_URL_DYNAMODB": coupon_table}
    # The console script pyproject.toml installs into the venv, as a merchant would run it.
    admin = [str(Path(sys.executable).with_name("coupon-admin"))]

    def run(*args: str) -> str:
        done = subprocess.run([*admin, *args], env=env, capture_output=True, text=True, check=True)
        return done.stdout

    created = run("create-account", "Cafe Brown").strip().splitlines()
    account, key = created[0].removeprefix("account: "), created[-1]
    assert account.startswith("acct_") and len(key) >= 43
    second = run("create-key", account).strip().splitlines()[-1]
    listing = run("list-keys", account, "--no-header")
    assert listing.count(account) == 2 and key not in listing and second not in listing
    assert run("list-keys", account).startswith("KEY ID")  # a header, for people
    key_id = listing.split()[0]
    assert run("revoke-key", key_id).strip() == f"revoked {key_id}"
    assert "revoked" in run("list-keys", account)
    failed = subprocess.run(
        [*admin, "revoke-key", "nosuchkey"], check=False, env=env, capture_output=True
    )
    assert failed.returncode == 1
