"""Idempotency-Key on create, create/bulk, redeem and redeem/cancel: a retry with the same key
and body gets the first success again (marked `Idempotent-Replayed: true`) and changes
nothing; another body is 4226; a retry while the first still runs is 4092; refusals and
errors are not remembered; keys are per account and route; redeem and cancel stay one
DynamoDB request."""

from collections.abc import Callable
from typing import Any

import pytest

from coupons import clock, idempotency
from coupons.auth import authenticate
from coupons.errors import storage_busy
from coupons.store import client as store_client
from coupons.store import coupons as coupon_items
from coupons.store import idempotency as idempotency_items
from devstack.samples import coupon_fields
from tests.conftest import Api, KeyedApi, Response, reset_containers

REPLAYED = "Idempotent-Replayed"


def _account(api: Api) -> str:
    return authenticate(f"APIKey {api.api_key}")


def _codes(api: Api) -> list[str]:
    return [coupon["cpnNo"] for coupon in api.list(limit="100").result["items"]]


def _assert_replay_of(first: Response, again: Response) -> None:
    assert first.code == 0 and REPLAYED not in first.headers
    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers[REPLAYED] == "true"


def _fails_once[F: Callable[..., Any]](real: F, error: Exception) -> F:
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    return flaky  # type: ignore[return-value]


# --- replay -----------------------------------------------------------------------------------


def test_create_retry_gets_the_same_code_and_creates_nothing(api: Api) -> None:
    keyed = api.with_key("signup-4711")
    first = keyed.create(memo="welcome")
    again = keyed.create(memo="welcome")
    _assert_replay_of(first, again)
    assert _codes(api) == [first.result]


def test_create_with_a_chosen_code_replays_success_not_4090(api: Api) -> None:
    keyed = api.with_key("signup-4712")
    first = keyed.create(cpnNo="CHOSEN234")
    _assert_replay_of(first, keyed.create(cpnNo="CHOSEN234"))
    assert api.create(cpnNo="CHOSEN234").code == 4090  # without the key it is a new request


def test_bulk_retry_gets_the_same_codes_and_creates_nothing(api: Api) -> None:
    api.create_groups(1)
    keyed = api.with_key("campaign-7")
    first = keyed.create_bulk(3, grpIdx=1)
    again = keyed.create_bulk(3, grpIdx=1)
    _assert_replay_of(first, again)
    assert sorted(_codes(api)) == sorted(first.result)


def test_redeem_retry_gets_the_same_redemption_and_counts_nothing(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-1001")
    first = keyed.redeem(code, memo="order 1001")
    again = keyed.redeem(code, memo="order 1001")
    _assert_replay_of(first, again)
    assert api.validate(code).result["useCnt"] == 1
    assert [r["rdmId"] for r in api.redemptions(code).result["items"]] == [first.result["rdmId"]]


def test_redeem_retry_after_the_coupon_is_used_up_still_replays_success(api: Api) -> None:
    code = api.create().result  # single use: the first redemption uses it up
    keyed = api.with_key("order-1002")
    first = keyed.redeem(code)
    assert first.result["remaining"] == 0
    _assert_replay_of(first, keyed.redeem(code))
    assert len(api.redemptions(code).result["items"]) == 1
    assert api.redeem(code).code == 4222


def test_put_redeem_retry_is_replayed_too(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-1003")
    first = keyed.call("PUT", "/redeem", body={"cpnNo": code})
    _assert_replay_of(first, keyed.call("PUT", "/redeem", body={"cpnNo": code}))
    assert api.validate(code).result["useCnt"] == 1


def test_cancel_retry_gets_the_same_answer_and_gives_back_one_use(api: Api) -> None:
    code = api.create(useLimit=0).result
    rdm_ids = [api.redeem(code).result["rdmId"] for _ in range(2)]
    keyed = api.with_key("refund-1")
    first = keyed.cancel(code, rdm_ids[0], memo="card declined")
    assert first.result == {"rdmId": rdm_ids[0], "useCnt": 1, "remaining": None}
    _assert_replay_of(first, keyed.cancel(code, rdm_ids[0], memo="card declined"))
    assert api.validate(code).result["useCnt"] == 1
    assert api.cancel(code, rdm_ids[0]).code == 4227  # without the key: already cancelled


def test_replay_survives_a_cold_container(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-1004")
    first = keyed.redeem(code)
    reset_containers()
    _assert_replay_of(first, keyed.redeem(code))
    assert api.validate(code).result["useCnt"] == 1


def test_redeem_retry_after_the_redemption_was_cancelled_is_4227_and_redeems_nothing(
    api: Api,
) -> None:
    """A replay never reports a use that no longer counts (before: 200 with the cancelled
    rdmId, while another order held the coupon's only use)."""
    code = api.create().result
    keyed = api.with_key("order-1005")
    first = keyed.redeem(code)
    api.cancel(code, first.result["rdmId"])
    assert api.redeem(code).code == 0  # another order takes the use back
    again = keyed.redeem(code)
    assert (again.status, again.code, again.result) == (422, 4227, None)
    assert REPLAYED not in again.headers
    assert api.validate(code).code == 4222  # one use, counted once


@pytest.mark.parametrize("recreate", [False, True])
def test_redeem_retry_after_the_coupon_was_deleted_is_4227(api: Api, recreate: bool) -> None:
    code = api.create(cpnNo="GONE23456", useLimit=0).result
    keyed = api.with_key("order-1006")
    assert keyed.redeem(code).code == 0
    api.delete(code)
    if recreate:
        api.create(cpnNo="GONE23456", useLimit=0)
    assert keyed.redeem(code).code == 4227
    if recreate:
        assert api.validate(code).result["useCnt"] == 0  # nothing counted on the new one


def test_a_replay_is_no_password_oracle(api: Api) -> None:
    """The key keeps the password out of 4226: a retry with another password is a wrong
    password (4225, counted towards the lock); once locked, every retry is 4290, the right
    password included, as a redemption would be."""
    code = api.create(useLimit=0, onsitePwd="2468").result
    keyed = api.with_key("order-pin")
    first = keyed.redeem(code, onsitePwd="2468")
    assert first.code == 0
    _assert_replay_of(first, keyed.redeem(code, onsitePwd="2468"))
    answers = [keyed.redeem(code, onsitePwd=f"{guess:04d}").code for guess in range(5)]
    assert answers == [4225] * 5  # each counted: the fifth locks
    locked = [keyed.redeem(code, onsitePwd=pwd) for pwd in ("0005", "2468")]
    assert [(a.status, a.code) for a in locked] == [(429, 4290), (429, 4290)]
    assert all(0 < int(a.headers["Retry-After"]) <= 900 for a in locked)
    assert api.redeem(code, onsitePwd="2468").code == 4290  # the coupon itself is locked
    assert keyed.redeem(code, onsitePwd="2468", memo="other").code == 4226  # other body


def test_a_replay_on_a_coupon_without_password_is_4226_for_another_password(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-nopin")
    assert keyed.redeem(code).code == 0
    assert keyed.redeem(code, onsitePwd="1234").code == 4226


def _a_day_later(monkeypatch: pytest.MonkeyPatch) -> None:
    real_now = clock.now_ms
    later = (idempotency.TTL_SECONDS + 1) * 1000
    monkeypatch.setattr(clock, "now_ms", lambda: real_now() + later)


def test_redeem_key_is_forgotten_after_24_hours(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-1006")
    keyed.redeem(code)
    _a_day_later(monkeypatch)
    later = keyed.redeem(code)
    assert later.code == 0 and REPLAYED not in later.headers
    assert later.result["useCnt"] == 2


def test_create_key_is_forgotten_after_24_hours(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    keyed = api.with_key("signup-4713")
    first = keyed.create()
    _a_day_later(monkeypatch)
    later = keyed.create()
    assert later.code == 0 and REPLAYED not in later.headers
    assert sorted(_codes(api)) == sorted([first.result, later.result])


# --- same key, another request --------------------------------------------------------------


def test_same_key_with_another_create_body_is_4226(api: Api) -> None:
    keyed = api.with_key("signup-1")
    first = keyed.create(nm="first")
    other = keyed.create(nm="second")
    assert (other.status, other.code, other.result) == (422, 4226, None)
    assert REPLAYED not in other.headers
    assert _codes(api) == [first.result]


def test_same_key_with_another_bulk_count_is_4226(api: Api) -> None:
    keyed = api.with_key("campaign-1")
    first = keyed.create_bulk(2)
    assert keyed.create_bulk(3).code == 4226
    assert sorted(_codes(api)) == sorted(first.result)


def test_same_key_with_another_redeem_body_is_4226_and_counts_nothing(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-1")
    keyed.redeem(code, memo="order 1")
    other = keyed.redeem(code, memo="order 2")
    assert (other.status, other.code, other.result) == (422, 4226, None)
    assert api.validate(code).result["useCnt"] == 1
    assert len(api.redemptions(code).result["items"]) == 1


def test_same_key_for_another_cancel_is_4226_and_leaves_it_redeemed(api: Api) -> None:
    code = api.create(useLimit=0).result
    first_id, second_id = (api.redeem(code).result["rdmId"] for _ in range(2))
    keyed = api.with_key("refund-2")
    assert keyed.cancel(code, first_id).code == 0
    assert keyed.cancel(code, second_id).code == 4226
    statuses = {r["rdmId"]: r["status"] for r in api.redemptions(code).result["items"]}
    assert statuses == {first_id: "CANCELLED", second_id: "REDEEMED"}


def test_the_body_is_compared_as_json_not_as_bytes(api: Api) -> None:
    code = api.create(useLimit=0).result
    keyed = api.with_key("order-2")
    first = keyed.call("POST", "/redeem", raw_body=f'{{"cpnNo":"{code}","memo":"m"}}'.encode())
    again = keyed.call("POST", "/redeem", raw_body=f'{{ "memo": "m", "cpnNo": "{code}" }}'.encode())
    _assert_replay_of(first, again)


# --- scope ------------------------------------------------------------------------------------


def test_same_key_on_different_routes_does_not_collide(api: Api) -> None:
    keyed = api.with_key("one-key")
    created = keyed.create(useLimit=0)
    redeemed = keyed.redeem(created.result)
    cancelled = keyed.cancel(created.result, redeemed.result["rdmId"])
    bulk = keyed.create_bulk(2)
    for answer in (created, redeemed, cancelled, bulk):
        assert answer.code == 0 and REPLAYED not in answer.headers
    assert len(_codes(api)) == 3


def test_same_key_in_two_accounts_does_not_collide(api: Api, other_api: Api) -> None:
    answers = []
    for caller in (api, other_api):
        keyed = caller.with_key("shared-key")
        created = keyed.create(cpnNo="SAMECODE2")
        redeemed = keyed.redeem("SAMECODE2")
        answers += [created, redeemed]
        assert redeemed.result["useCnt"] == 1
    for answer in answers:
        assert answer.code == 0 and REPLAYED not in answer.headers
    assert answers[1].result["rdmId"] != answers[3].result["rdmId"]


# --- what is not remembered -------------------------------------------------------------------


def test_refused_redeem_is_not_remembered_so_the_corrected_request_runs(api: Api) -> None:
    code = api.create(onsiteYn="Y", onsitePwd="1234").result
    keyed = api.with_key("order-3")
    assert keyed.redeem(code, onsitePwd="0000").code == 4225
    fixed = keyed.redeem(code, onsitePwd="1234")  # another body: not 4226, nothing remembered
    assert fixed.code == 0 and REPLAYED not in fixed.headers
    assert fixed.result["useCnt"] == 1
    _assert_replay_of(fixed, keyed.redeem(code, onsitePwd="1234"))


def test_refused_redeem_retried_unchanged_runs_again(api: Api) -> None:
    code = api.create().result
    taken = api.redeem(code).result["rdmId"]
    keyed = api.with_key("order-4")
    assert keyed.redeem(code).code == 4222
    api.cancel(code, taken)  # the use comes back
    retry = keyed.redeem(code)
    assert retry.code == 0 and REPLAYED not in retry.headers


def test_refused_create_is_not_remembered(api: Api) -> None:
    keyed = api.with_key("signup-2")
    assert keyed.create(disc=0).code == 4001
    assert _codes(api) == []
    fixed = keyed.create()
    assert fixed.code == 0 and REPLAYED not in fixed.headers
    assert _codes(api) == [fixed.result]


def test_refused_cancel_is_not_remembered(api: Api) -> None:
    code = api.create().result
    keyed = api.with_key("refund-3")
    assert keyed.cancel(code, "0" * 24).code == 4227
    rdm_id = api.redeem(code).result["rdmId"]
    assert keyed.cancel(code, rdm_id).code == 0


def test_create_that_failed_with_500_is_not_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        coupon_items, "put_new", _fails_once(coupon_items.put_new, RuntimeError("disk on fire"))
    )
    keyed = api.with_key("signup-3")
    failed = keyed.create()
    assert (failed.status, failed.code) == (500, 5000)
    retry = keyed.create()
    assert retry.code == 0 and REPLAYED not in retry.headers
    assert _codes(api) == [retry.result]


def test_bulk_that_failed_with_500_is_not_stored(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        coupon_items, "put_new_batch", _fails_once(coupon_items.put_new_batch, RuntimeError("boom"))
    )
    keyed = api.with_key("campaign-2")
    assert keyed.create_bulk(2).status == 500
    retry = keyed.create_bulk(2)
    assert retry.code == 0 and REPLAYED not in retry.headers
    assert sorted(_codes(api)) == sorted(retry.result)


def test_redeem_that_failed_with_500_is_not_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = api.create().result
    monkeypatch.setattr(
        idempotency_items, "transact", _fails_once(store_client.transact, RuntimeError("boom"))
    )
    keyed = api.with_key("order-5")
    assert keyed.redeem(code).status == 500
    retry = keyed.redeem(code)
    assert retry.code == 0 and REPLAYED not in retry.headers
    assert retry.result["useCnt"] == 1


def test_create_throttled_while_claiming_the_key_is_503_and_retry_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        idempotency_items,
        "claim",
        _fails_once(idempotency_items.claim, storage_busy()),
    )
    keyed = api.with_key("signup-4")
    busy = keyed.create()
    assert (busy.status, busy.code) == (503, 5030) and "Retry-After" in busy.headers
    assert _codes(api) == []
    retry = keyed.create()
    assert retry.code == 0 and REPLAYED not in retry.headers


# --- in progress ------------------------------------------------------------------------------


def _create_in_flight(api: Api, key: str, while_running: Callable[[KeyedApi], None]) -> Any:
    """Run a create with `key` in-process (its operation makes no coupon and answers
    "FIRSTCODE") and, while it holds the key, call `while_running(api.with_key(key))`."""

    def operation() -> str:
        while_running(api.with_key(key))
        return "FIRSTCODE"

    # coupon_fields() is the body KeyedApi.create() sends.
    return idempotency.IdempotencyKey(_account(api), "create", key, coupon_fields()).run(operation)


def test_retry_while_the_first_create_still_runs_is_4092(api: Api) -> None:
    during: list[Response] = []
    first = _create_in_flight(api, "slow-1", lambda keyed: during.append(keyed.create()))
    assert first == "FIRSTCODE"
    assert [(r.status, r.code, r.result) for r in during] == [(409, 4092, None)]
    assert _codes(api) == []  # the retry created nothing
    after = api.with_key("slow-1").create()
    assert after.result == "FIRSTCODE" and after.headers[REPLAYED] == "true"


def test_other_body_while_the_first_create_still_runs_is_4226(api: Api) -> None:
    during: list[Response] = []
    _create_in_flight(api, "slow-2", lambda keyed: during.append(keyed.create(nm="other")))
    assert [r.code for r in during] == [4226]


class _Killed(BaseException):
    """The invocation dies mid-request (timeout, crash): nothing gets to clean up."""


def test_claim_of_a_request_that_died_lapses_after_30_seconds(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die() -> str:
        raise _Killed

    with pytest.raises(_Killed):
        idempotency.IdempotencyKey(_account(api), "create", "dead-1", coupon_fields()).run(die)
    keyed = api.with_key("dead-1")
    assert keyed.create().code == 4092
    real_now = clock.now_ms
    monkeypatch.setattr(clock, "now_ms", lambda: real_now() + 29_000)
    assert keyed.create().code == 4092
    monkeypatch.setattr(clock, "now_ms", lambda: real_now() + idempotency.IN_PROGRESS_MS + 1_000)
    retry = keyed.create()
    assert retry.code == 0 and REPLAYED not in retry.headers
    assert _codes(api) == [retry.result]


# --- the header -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "cl\u00e9", "tab\there", "line\nbreak", "trailing\n", "\x7f"]
)
def test_malformed_key_is_4001_and_does_nothing(api: Api, key: str) -> None:
    code = api.create().result
    keyed = api.with_key(key)
    for answer in (keyed.create(), keyed.create_bulk(2), keyed.redeem(code)):
        assert (answer.status, answer.code) == (400, 4001)
        assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    assert keyed.cancel(code, "0" * 24).body["errors"][0]["field"] == "Idempotency-Key"
    assert _codes(api) == [code]
    assert api.validate(code).result["useCnt"] == 0


@pytest.mark.parametrize("key", ["k", "x" * 255, "order 1001 / retry", "~!@#$%^&*()"])
def test_any_printable_ascii_key_of_1_to_255_characters_works(api: Api, key: str) -> None:
    keyed = api.with_key(key)
    first = keyed.create()
    _assert_replay_of(first, keyed.create())


def test_an_invalid_body_with_a_key_is_4001_and_leaves_the_key_free(
    api: Api, dynamodb_requests: list[str]
) -> None:
    """The body is parsed before the key is claimed: nothing is stored for a request that
    could never run (so a reused key with a body that is invalid is 4001, not 4226), and the
    corrected request then runs for real."""
    keyed = api.with_key("signup-9")
    api.validate("NOSUCHCODE")  # the key lookup is done: not counted below
    dynamodb_requests.clear()
    assert keyed.call("POST", "/create", body=coupon_fields(useLimit=9)).code == 4001
    assert dynamodb_requests == []
    created = keyed.create()
    assert created.code == 0 and REPLAYED not in created.headers
    assert keyed.call("POST", "/create", body=coupon_fields(useLimit=9)).code == 4001


@pytest.mark.parametrize(("method", "path"), [("POST", "/redeem"), ("POST", "/redeem/cancel")])
def test_a_lone_surrogate_in_an_ignored_field_is_400_not_500(
    api: Api, method: str, path: str
) -> None:
    """JSON's \\u escapes can carry half a character in a field the API ignores; with an
    Idempotency-Key the body is hashed as UTF-8, which it is not (before: 500)."""
    code = api.create(useLimit=0).result
    rdm_id = api.redeem(code).result["rdmId"] if path == "/redeem/cancel" else ""
    raw = (
        f'{{"cpnNo": "{code}", "rdmId": "{rdm_id}", "note": "half \\ud800 a character"}}'
    ).replace('"rdmId": "", ', "")
    answer = api.with_key("surrogate-1").call(method, path, raw_body=raw.encode())
    assert (answer.status, answer.code) == (400, 4000)
    # Nothing happened: the redemption (or the cancellation) did not run.
    assert api.validate(code).result["useCnt"] == (1 if path == "/redeem/cancel" else 0)


# --- cost -------------------------------------------------------------------------------------


def test_redeem_replay_is_two_dynamodb_requests(api: Api, dynamodb_requests: list[str]) -> None:
    """The refused transaction returns the key's record; one more read checks that the use
    it reports still counts (the first redemption stays one request)."""
    code = api.create().result
    keyed = api.with_key("order-7")
    dynamodb_requests.clear()
    keyed.redeem(code)
    assert dynamodb_requests == ["TransactWriteItems"]
    dynamodb_requests.clear()
    assert keyed.redeem(code).headers[REPLAYED] == "true"
    assert dynamodb_requests == ["TransactWriteItems", "BatchGetItem"]
