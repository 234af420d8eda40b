"""API keys and accounts: 401 in the envelope; one account never sees another's coupons."""

import time

import pytest

from coupons import accounts, auth, containers
from coupons.store import accounts as account_items
from coupons.store.client import client
from tests.conftest import TABLE_NAME, Api, account_of


@pytest.mark.parametrize(
    "authorization",
    [None, "", "APIKey", "APIKey ", "Bearer abc", "APIKey wrong-key", "APIKey " + "x" * 300],
)
def test_missing_or_invalid_key_is_401_in_the_envelope(api: Api, authorization: str | None) -> None:
    caller = Api(api_key=None)
    headers = {"authorization": authorization} if authorization is not None else {}
    for method, path in [("POST", "/create"), ("GET", "/validate"), ("POST", "/redeem"),
                         ("PUT", "/update"), ("DELETE", "/delete")]:  # fmt: skip
        answer = caller.call(method, path, headers=headers, query={"cpnNo": "ABCDEFGH"})
        assert (answer.status, answer.code, answer.result) == (401, 4010, None)
        assert answer.body["message"] == "Missing or invalid API key."


def test_scheme_is_case_insensitive(api: Api) -> None:
    assert api.api_key
    answer = Api(None).call("GET", "/validate", query={"cpnNo": "NOSUCHCODE"},
                            headers={"authorization": f"apikey {api.api_key}"})  # fmt: skip
    assert answer.code == 4040


def test_other_accounts_coupons_do_not_exist_for_you(api: Api, other_api: Api) -> None:
    code = api.create(cpnNo="MINE12345", useLimit=0).result
    for answer in (
        other_api.validate(code),
        other_api.redeem(code),
        other_api.update(code, memo="hijack"),
        other_api.delete(code),
    ):
        assert (answer.status, answer.code) == (404, 4040)
    # The same code is free in the other account, and the two never mix.
    assert other_api.create(cpnNo=code, memo="theirs").code == 0
    assert api.validate(code).result["memo"] == ""
    assert api.redeem(code).code == 0
    assert other_api.validate(code).result["useCnt"] == 0


def test_keys_are_stored_only_as_hashes(dynamodb: object) -> None:
    account, key = accounts.create_account("hash check")
    record = account_items.get_api_key(auth.key_hash(key))
    assert record is not None and record["account"] == account
    assert key not in str(record)
    assert account_items.get_api_key(key) is None


def test_revoked_key_stops_working_within_seconds(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.api_key
    assert api.validate("NOSUCHCODE").code == 4040  # the key is now cached by this container
    assert accounts.revoke_key(auth.key_id(auth.key_hash(api.api_key))) == 1
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 4.0)
    assert api.validate("NOSUCHCODE").code == 4040  # still cached
    monkeypatch.setattr(time, "monotonic", lambda: real() + 5.5)
    assert api.validate("NOSUCHCODE").code == 4010  # a warm container forgets within 5 s
    containers.reset()
    assert api.validate("NOSUCHCODE").code == 4010  # and a new one never knew it


def test_second_key_reaches_the_same_account(api: Api) -> None:
    assert api.api_key
    code = api.create().result
    account = account_items.get_api_key(auth.key_hash(api.api_key))
    assert account is not None
    second = Api(accounts.create_key(str(account["account"])))
    assert second.validate(code).code == 0


def test_generated_keys_have_at_least_32_bytes_of_entropy() -> None:
    keys = {auth.new_api_key() for _ in range(50)}
    assert len(keys) == 50 and min(len(k) for k in keys) >= 43  # 32 bytes in base64url


def test_a_refused_key_is_remembered_and_costs_no_read_when_it_repeats(
    api: Api, dynamodb_requests: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = Api("a-key-nobody-issued-0123456789")
    assert bad.validate("NOSUCHCODE").code == 4010
    dynamodb_requests.clear()
    assert [bad.validate("NOSUCHCODE").code for _ in range(20)] == [4010] * 20
    assert dynamodb_requests == []  # before: one GetItem each
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + auth.REFUSED_SECONDS + 1)
    assert bad.validate("NOSUCHCODE").code == 4010
    assert dynamodb_requests == ["GetItem"]  # looked up again once the memory lapses


def test_a_flood_of_bad_keys_does_not_evict_the_good_ones(
    api: Api, dynamodb_requests: list[str]
) -> None:
    assert api.validate("NOSUCHCODE").code == 4040
    for n in range(auth.CACHE_LIMIT + 10):
        assert Api(f"bad-key-{n:06d}-0123456789abcdef").validate("NOSUCHCODE").code == 4010
    dynamodb_requests.clear()
    assert api.validate("NOSUCHCODE").code == 4040
    assert dynamodb_requests == ["GetItem"]  # the coupon read only: the good key stayed cached


def test_list_and_revoke_keys_query_the_key_list_and_never_scan(
    api: Api, dynamodb_requests: list[str]
) -> None:
    account, first = accounts.create_account("listed")
    second = accounts.create_key(account)
    dynamodb_requests.clear()
    listed = accounts.list_keys(account)
    assert {r["keyHash"] for r in listed} == {auth.key_hash(first), auth.key_hash(second)}
    assert all(r["account"] == account and not r["revoked"] for r in listed)
    assert accounts.revoke_key(auth.key_id(auth.key_hash(second))) == 1
    revoked = {r["keyHash"]: r["revoked"] for r in accounts.list_keys(account)}
    assert revoked == {auth.key_hash(first): False, auth.key_hash(second): True}
    assert Api(second).validate("NOSUCHCODE").code == 4010
    assert Api(first).validate("NOSUCHCODE").code == 4040
    assert "Scan" not in dynamodb_requests  # before: every list-keys and revoke-key scanned
    assert {"Query", "TransactWriteItems"} <= set(dynamodb_requests)


def test_keys_created_before_the_key_list_are_listed_by_the_one_off_migration(
    api: Api,
) -> None:
    legacy = "legacy-key-0123456789abcdef0123456789"
    hashed = auth.key_hash(legacy)
    account = account_of(api)
    client().put_item(  # as an earlier version stored a key: no entry in the key list
        TableName=TABLE_NAME,
        Item={
            "PK": {"S": f"KEY#{hashed}"},
            "SK": {"S": "KEY"},
            "account": {"S": account},
            "keyId": {"S": auth.key_id(hashed)},
            "created": {"S": "2026-01-01T00:00:00+00:00"},
            "revoked": {"BOOL": False},
        },
    )
    assert Api(legacy).validate("NOSUCHCODE").code == 4040  # it works
    assert hashed not in {r["keyHash"] for r in accounts.list_keys(account)}
    assert accounts.list_unlisted_keys() >= 1
    assert hashed in {r["keyHash"] for r in accounts.list_keys(account)}
    assert accounts.list_unlisted_keys() == 0  # once is enough
    assert accounts.revoke_key(auth.key_id(hashed)) == 1
