"""The domain operations whose request is a JSON body (create, bulk, update, redeem, cancel):
each takes the caller's account and the body and returns the envelope's `result`, or raises
CouponError. The bodies are parsed with the pydantic models; the operations driven by a query
string live in queries.py, so their functions never import pydantic."""

import secrets
from collections.abc import Mapping
from typing import Any

from coupons import config, rules, store
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.idempotency import Replayed, guard, remembered, replay
from coupons.models import (
    TERM_FIELDS,
    BulkCreateRequest,
    CancelRequest,
    CouponTerms,
    CreateRequest,
    RedeemRequest,
    UpdateRequest,
    parse,
)
from coupons.observability import count

_GENERATE_ATTEMPTS = 5
_EDIT_ATTEMPTS = 3
# Attempts of a redemption or cancellation. A limited coupon's count is pinned on every attempt,
# so its answer (useCnt, remaining) is always exact; each failed attempt means another use or
# cancellation landed in between. An unlimited coupon's count may move on every request, so
# after its pinned attempts the count floats (see redeem) and the answer is approximate.
_REDEEM_ATTEMPTS = 12
_PINNED_UNLIMITED_ATTEMPTS = 1
# What this container last saw of a coupon: (useCnt, useLimit). A redemption pins its belief
# about both in the condition so that, on success, the new count and what remains are known
# without reading the coupon. A wrong belief costs one more request and is corrected from the
# coupon the failed condition returns. A coupon nobody here has seen is most likely unused
# and single-use.
_seen: dict[tuple[str, str], tuple[int, int]] = {}
_SEEN_LIMIT = 10_000
_FIRST_GUESS = (0, 1)
# A cancelled redemption is most often the only use of a single-use coupon.
_FIRST_CANCEL_GUESS = (1, 1)
# Attempts to count one wrong on-site password. Each failed attempt means another failure was
# counted (at most rules.PASSWORD_FAILURES before the lock answers) or a redemption reset them.
_COUNT_ATTEMPTS = 3 * rules.PASSWORD_FAILURES


def _new_id(ms: int | None = None) -> str:
    """Time-ordered, unguessable id: 12 hex digits of milliseconds, 12 random."""
    return f"{store.now_ms() if ms is None else ms:012x}{secrets.token_hex(6)}"


def _new_coupon(terms: Mapping[str, Any]) -> dict[str, Any]:
    return {**terms, "useCnt": 0, "ver": 0, "cid": _new_id(), "regTs": store.now_ms()}


def create_coupon(
    account: str, body: Mapping[str, Any], idempotency_key: str | None = None
) -> str | Replayed:
    return remembered("create", account, idempotency_key, body, _create)


def _create(account: str, body: Mapping[str, Any]) -> str:
    request = parse(CreateRequest, body, today=rules.today())
    coupon = _new_coupon(_with_defaults(request.model_dump(include=set(TERM_FIELDS))))
    if request.cpnNo:
        coupon["cpnNo"] = rules.normalize_code(request.cpnNo)
        if not store.put_new_coupon(account, coupon):
            raise CouponError(ErrorCode.CODE_EXISTS)
    else:
        for _ in range(_GENERATE_ATTEMPTS):
            coupon["cpnNo"] = rules.generate_code(request.cpnNoDigits)
            if store.put_new_coupon(account, coupon):
                break
        else:  # 32^8 codes: five collisions in a row means something else is wrong
            raise RuntimeError("could not find a free coupon code")
    count("CouponsCreated")
    return str(coupon["cpnNo"])


def create_coupons(
    account: str, body: Mapping[str, Any], idempotency_key: str | None = None
) -> list[str] | Replayed:
    return remembered("create/bulk", account, idempotency_key, body, _create_bulk)


def _create_bulk(account: str, body: Mapping[str, Any]) -> list[str]:
    """`count` coupons in one all-or-nothing transaction; codes that turn out to be taken are
    drawn again and the whole batch retried."""
    request = parse(BulkCreateRequest, body, today=rules.today())
    terms = _with_defaults(request.model_dump(include=set(TERM_FIELDS)))
    coupons = [_new_coupon(terms) for _ in range(request.count)]
    redraw: list[int] = list(range(request.count))
    for _ in range(_GENERATE_ATTEMPTS):
        codes = {str(coupon.get("cpnNo")) for coupon in coupons}
        for position in redraw:
            code = rules.generate_code(request.cpnNoDigits)
            while code in codes:  # two actions on one item would fail the transaction
                code = rules.generate_code(request.cpnNoDigits)
            codes.add(code)
            coupons[position]["cpnNo"] = code
        redraw = store.put_new_coupons(account, coupons)
        if not redraw:
            count("CouponsCreated", len(coupons))
            return [str(coupon["cpnNo"]) for coupon in coupons]
    raise RuntimeError("could not find free coupon codes")


def update_coupon(account: str, body: Mapping[str, Any]) -> str:
    """Fields present change, fields absent stay; once used, only memo may change."""
    cpn_no = rules.normalize_code(parse(UpdateRequest, body).cpnNo)
    # JSON null means absent, as everywhere: a null field stays as it is.
    edits = {name: body[name] for name in TERM_FIELDS if body.get(name) is not None}
    for _ in range(_EDIT_ATTEMPTS):
        stored = store.get_coupon(account, cpn_no, consistent=True)
        if stored is None:
            raise CouponError(ErrorCode.COUPON_NOT_FOUND)
        current = {name: stored[name] for name in TERM_FIELDS}
        merged = _with_defaults(
            parse(CouponTerms, {**current, **edits}, today=rules.today()).model_dump()
        )
        changes = {name: value for name, value in merged.items() if value != current[name]}
        if not changes:
            return cpn_no
        locked = set(changes) - {"memo"}
        if locked and stored["useCnt"] > 0:
            raise CouponError(ErrorCode.COUPON_LOCKED)
        try:
            store.update_coupon(
                account,
                cpn_no,
                changes,
                instance=stored["cid"],
                version=stored["ver"],
                unused_only=bool(locked),
            )
            return cpn_no
        except store.ConditionFailed as failed:
            if failed.old is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            if locked and failed.old["useCnt"] > 0:
                raise CouponError(ErrorCode.COUPON_LOCKED) from None
            # Edited concurrently (or deleted and re-created): merge again over what is there.
    raise storage_busy()


def redeem_coupon(
    account: str, body: Mapping[str, Any], idempotency_key: str | None = None
) -> dict[str, Any] | Replayed:
    """Check every rule and count one use in one conditional transaction (see _seen), which
    also writes the Idempotency-Key's record when there is one. A wrong on-site password is
    then counted towards the coupon's lock by one more request (_count_wrong_password)."""
    request = parse(RedeemRequest, body)
    code = rules.normalize_code(request.cpnNo)
    today = rules.today()
    use_count, use_limit = _seen.get((account, code), _FIRST_GUESS)
    not_before = 0  # the record's time must not precede the coupon's creation
    for attempt in range(_REDEEM_ATTEMPTS):
        # Once an unlimited coupon's pinned attempts are spent its count floats, so a hot coupon
        # cannot starve a request; the reported useCnt is then approximate.
        pinned = use_limit != rules.UNLIMITED or attempt < _PINNED_UNLIMITED_ATTEMPTS
        clock = store.now_ms()
        now = max(clock, not_before)
        result = _use_result(_new_id(now), use_count + 1, use_limit)
        try:
            store.redeem(
                account,
                code,
                today=today.isoformat(),
                user_id=request.userId,
                onsite_pwd=request.onsitePwd,
                use_count=use_count if pinned else None,
                use_limit=use_limit,
                record={
                    "rdmId": result["rdmId"],
                    "userId": request.userId,
                    "memo": request.memo,
                    "status": "REDEEMED",
                    "regTs": now,
                },
                now=clock,
                guard=_guard(account, "redeem", idempotency_key, body, result),
            )
        except store.KeyInUse as used:
            return replay(used.old, body)
        except store.ConditionFailed as failed:
            coupon = failed.old
            refused = (
                ErrorCode.COUPON_NOT_FOUND
                if coupon is None
                else rules.refusal(
                    coupon,
                    today,
                    clock,
                    user_id=request.userId,
                    onsite_pwd=request.onsitePwd,
                    redeeming=True,
                )
            )
            if refused is not None:
                assert coupon is not None or refused is ErrorCode.COUPON_NOT_FOUND
                raise _refusal(account, code, refused, coupon, clock) from None
            assert coupon is not None
            actual = int(coupon["useCnt"]), int(coupon["useLimit"])
            younger = int(coupon["regTs"]) > now
            if not younger and actual[1] == use_limit and (actual[0] == use_count or not pinned):
                raise RuntimeError("redeem condition refused a coupon the rules accept") from None
            use_count, use_limit = actual
            not_before = int(coupon["regTs"])
            continue
        _remember(account, code, result["useCnt"], use_limit)
        count("Redemptions")
        return result
    raise storage_busy()


def _refusal(
    account: str, code: str, refused: ErrorCode, coupon: Mapping[str, Any] | None, clock: int
) -> CouponError:
    """The error for a refused redemption. A wrong on-site password is counted first, and
    turns into 4290 if other wrong passwords locked the coupon meanwhile; 4290 carries the
    seconds until the lock ends as Retry-After."""
    if refused is ErrorCode.ONSITE_PASSWORD and coupon is not None:
        coupon = _count_wrong_password(account, code, coupon, clock)
        if coupon is not None:
            refused = ErrorCode.TOO_MANY_REQUESTS
    count("RedemptionsRejected", reason=refused.name)
    if refused is ErrorCode.TOO_MANY_REQUESTS and coupon is not None:
        return CouponError(refused, retry_after=rules.password_lock_seconds(coupon, clock))
    return CouponError(refused)


def _count_wrong_password(
    account: str, code: str, coupon: Mapping[str, Any], clock: int
) -> Mapping[str, Any] | None:
    """Count one wrong on-site password presented at `clock` on `coupon` (as the refused
    redemption returned it): a compare-and-set of its recent failures, repeated on the coupon
    each refusal returns. None once counted (the answer stays 4225, also for the failure that
    locks the coupon); the coupon when it turns out locked already (4290). A coupon deleted or
    re-created meanwhile has nothing to count on (4225)."""
    for _ in range(_COUNT_ATTEMPTS):
        failures, locked_until = rules.after_wrong_password(coupon, clock)
        try:
            store.count_wrong_password(
                account,
                code,
                instance=str(coupon["cid"]),
                seen=coupon.get("pwdFailTs"),
                failures=failures,
                locked_until=locked_until,
                now=clock,
            )
        except store.ConditionFailed as failed:
            if failed.old is None or failed.old["cid"] != coupon["cid"]:
                return None
            coupon = failed.old
            if rules.password_lock_seconds(coupon, clock):
                return coupon
            continue
        if locked_until is not None:
            count("PasswordLockouts")
        return None
    raise storage_busy()


def cancel_redemption(
    account: str, body: Mapping[str, Any], idempotency_key: str | None = None
) -> dict[str, Any] | Replayed:
    """Mark one redemption CANCELLED and give its use back, in one transaction (pinning the
    count like redeem, and writing the Idempotency-Key's record when there is one)."""
    request = parse(CancelRequest, body)
    code = rules.normalize_code(request.cpnNo)
    redeemed_at = int(request.rdmId[:12], 16)
    use_count, use_limit = _seen.get((account, code), _FIRST_CANCEL_GUESS)
    for attempt in range(_REDEEM_ATTEMPTS):
        pinned = use_limit != rules.UNLIMITED or attempt < _PINNED_UNLIMITED_ATTEMPTS
        result = _use_result(request.rdmId, max(use_count - 1, 0), use_limit)
        try:
            store.cancel_redemption(
                account,
                code,
                request.rdmId,
                redeemed_ts=redeemed_at,
                cancel_ts=store.now_ms(),
                memo=request.memo,
                use_count=use_count if pinned else None,
                use_limit=use_limit,
                guard=_guard(account, "redeem/cancel", idempotency_key, body, result),
            )
        except store.KeyInUse as used:
            return replay(used.old, body)
        except store.NotCancellable:
            raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND) from None
        except store.ConditionFailed as failed:
            if failed.old is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            use_count, use_limit = int(failed.old["useCnt"]), int(failed.old["useLimit"])
            continue
        _remember(account, code, result["useCnt"], use_limit)
        count("RedemptionsCancelled")
        return result
    raise storage_busy()


def _use_result(rdm_id: str, use_count: int, use_limit: int) -> dict[str, Any]:
    return {
        "rdmId": rdm_id,
        "useCnt": use_count,
        "remaining": rules.remaining_uses({"useCnt": use_count, "useLimit": use_limit}),
    }


def _guard(
    account: str, route: str, key: str | None, body: Mapping[str, Any], result: Any
) -> dict[str, Any] | None:
    return None if key is None else guard(account, route, key, body, result)


def _with_defaults(terms: dict[str, Any]) -> dict[str, Any]:
    """Defaults that come from the deployment rather than the model."""
    terms["domain"] = terms["domain"] or config.public_base_url()
    return terms


def _remember(account: str, code: str, use_count: int, use_limit: int) -> None:
    if len(_seen) >= _SEEN_LIMIT:
        _seen.clear()
    _seen[(account, code)] = (use_count, use_limit)
