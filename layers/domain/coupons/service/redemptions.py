"""Redemptions: redeem (with the on-site password lockout), cancel, and the history.

A redemption checks every rule and counts one use in one conditional transaction, which also
claims the Idempotency-Key's record when there is one. It pins what this container believes
about the coupon's count and limit (`_seen`), so that on success the new count and what
remains are known without reading the coupon; a wrong belief costs one more request and is
corrected from the coupon the failed condition returns."""

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from coupons import clock, containers, cursors, rules
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.idempotency import IdempotencyKey, Replayed, guarded
from coupons.observability import count
from coupons.queries import HistoryQuery
from coupons.records import Page, PasswordGuard, RedemptionView, StoredCoupon, UseResult
from coupons.service.lockout import refuse_wrong_password, shared_counters, with_shared_locks
from coupons.store import coupons as coupon_items
from coupons.store import redemptions as redemption_items
from coupons.store.client import ConditionFailed
from coupons.store.idempotency import Guard
from coupons.views import redemption_view

if TYPE_CHECKING:
    from coupons.models import CancelRequest, RedeemRequest

# Attempts of a redemption or cancellation. A limited coupon's count is pinned on every attempt,
# so its answer (useCnt, remaining) is always exact; each failed attempt means another use or
# cancellation landed in between. An unlimited coupon's count may move on every request, so
# after its pinned attempts the count floats and the answer is approximate.
_ATTEMPTS = 12
_PINNED_UNLIMITED_ATTEMPTS = 1
# What this container last saw of a coupon: (useCnt, useLimit). A coupon nobody here has seen
# is most likely unused and single-use; a cancelled redemption most often the only use of a
# single-use coupon.
type Belief = tuple[int, int]
_seen: dict[tuple[str, str], Belief] = {}
_SEEN_LIMIT = 10_000
_FIRST_GUESS: Belief = (0, 1)
_FIRST_CANCEL_GUESS: Belief = (1, 1)
containers.on_reset(_seen.clear)


def redeem_coupon(
    account: str, request: "RedeemRequest", key: IdempotencyKey | None = None
) -> UseResult | Replayed[UseResult]:
    """Count one use of the coupon under every rule (see the module docstring). A wrong
    on-site password is then counted towards the coupon's lock by one more request."""
    code = rules.normalize_code(request.cpnNo)
    today = clock.today().isoformat()
    belief = _seen.get((account, code), _FIRST_GUESS)
    not_before = 0  # the record's time must not precede the coupon's creation
    presented = rules.Presented.of(account, request.onsitePwd)
    shared_locks: dict[str, PasswordGuard] = {}  # shared wrong-password counters found locked
    for attempt in range(_ATTEMPTS):
        # Once an unlimited coupon's pinned attempts are spent its count floats, so a hot coupon
        # cannot starve a request; the reported useCnt is then approximate.
        pinned = belief[1] != rules.UNLIMITED or attempt < _PINNED_UNLIMITED_ATTEMPTS
        attempted_at = clock.now_ms()
        now = max(attempted_at, not_before)
        result = _use_result(rules.new_id(now), belief[0] + 1, belief[1])
        write = _redemption(
            account,
            code,
            request,
            today=today,
            belief=belief,
            pinned=pinned,
            result=result,
            attempted_at=attempted_at,
            presented=presented,
            # With a shared counter locked, only a coupon without a password may be redeemed.
            shared=not shared_locks,
        )
        try:
            replayed = guarded(key, result, write)
        except redemption_items.Refused as failed:
            shared_locks |= failed.locks
            if not failed.coupon_failed:
                continue  # the coupon's own rules held: try it as a coupon without a password
            coupon = _refused(
                account,
                code,
                request,
                failed,
                when=(today, attempted_at),
                presented=presented,
                shared_locks=shared_locks,
            )
            actual = int(coupon["useCnt"]), int(coupon["useLimit"])
            older = int(coupon["regTs"]) <= now
            right = actual[1] == belief[1] and (actual[0] == belief[0] or not pinned)
            if older and right and not shared_locks:
                raise RuntimeError("redeem condition refused a coupon the rules accept") from None
            if coupon["onsitePwd"]:
                shared_locks = {}  # none of them holds for it now: check them again
            belief, not_before = actual, int(coupon["regTs"])
            continue
        if replayed is not None:
            return _still_standing(account, code, presented, replayed)
        _remember(account, code, result["useCnt"], belief[1])
        count("Redemptions")
        return result
    raise storage_busy()


def _redemption(  # noqa: PLR0913 - one attempt's facts
    account: str,
    code: str,
    request: "RedeemRequest",
    *,
    today: str,
    belief: Belief,
    pinned: bool,
    result: UseResult,
    attempted_at: int,
    presented: rules.Presented,
    shared: bool,
) -> Callable[[Guard | None], None]:
    """The write of one attempt: the use counted under `belief`, and the record of `result`
    (timed by its rdmId); with `shared`, the shared wrong-password counters checked, else
    only a coupon without a password redeemed."""

    def write(guard: Guard | None) -> None:
        redemption_items.redeem(
            account,
            code,
            today=today,
            user_id=request.userId,
            onsite_pwd=(presented.digest, presented.clear),
            use_count=belief[0] if pinned else None,
            use_limit=belief[1],
            record={
                "rdmId": result["rdmId"],
                "userId": request.userId,
                "memo": request.memo,
                "status": "REDEEMED",
                "regTs": int(result["rdmId"][:12], 16),
            },
            now=attempted_at,
            guard=guard,
            password_guards=shared_counters(account, presented) if shared else (),
            without_password=not shared,
        )

    return write


def _still_standing(
    account: str, code: str, presented: rules.Presented, replayed: Replayed[UseResult]
) -> Replayed[UseResult]:
    """A retry of a redemption gets its first answer only while that use still counts, and
    is never an oracle for the on-site password (which its key keeps out of 4226): one more
    read of the coupon and the record, then
    - the coupon deleted or re-created, or the redemption cancelled: 4227;
    - the coupon locked by wrong passwords (its own, or a shared lock): 4290, whatever the
      password;
    - another password than the first request's: counted as a wrong one (4225, or 4290);
    - else the first answer again."""
    coupon, record, counters = redemption_items.standing(
        account, code, replayed.result["rdmId"], shared_counters(account, presented)
    )
    if coupon is None or record is None or coupon["regTs"] > record["regTs"]:
        raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND)
    at = clock.now_ms()
    if coupon["onsitePwd"]:
        locked = rules.password_lock_seconds(
            with_shared_locks(account, coupon, presented, counters), at
        )
        if locked:
            raise CouponError(ErrorCode.TOO_MANY_REQUESTS, retry_after=locked)
        if not replayed.private_matches:
            refuse_wrong_password(account, code, coupon, at)
    elif not replayed.private_matches:  # no password to guard: just another request body
        raise CouponError(ErrorCode.IDEMPOTENCY_MISMATCH)
    if record["status"] != "REDEEMED":
        raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND)
    return replayed


def _refused(  # noqa: PLR0913 - the request, and what its refusal returned
    account: str,
    code: str,
    request: "RedeemRequest",
    failed: ConditionFailed,
    *,
    when: tuple[str, int],
    presented: rules.Presented,
    shared_locks: Mapping[str, PasswordGuard],
) -> StoredCoupon:
    """The coupon a refused redemption returned, when no rule refuses it (the belief pinned
    in the condition was wrong); else the error for the first rule that does, judged on the
    day and at the time (ms) the condition was, with the shared locks that hold for it."""
    today, at = when
    coupon = coupon_items.as_coupon(failed.old)
    if coupon is None:
        count("RedemptionsRejected", reason=ErrorCode.COUPON_NOT_FOUND.name)
        raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
    coupon = with_shared_locks(account, coupon, presented, shared_locks)
    refused = rules.refusal(
        coupon,
        date.fromisoformat(today),
        at,
        user_id=request.userId,
        onsite_pwd=presented.as_stored(coupon["onsitePwd"]),
        redeeming=True,
    )
    if refused is None:
        return coupon
    if refused is ErrorCode.ONSITE_PASSWORD:
        refuse_wrong_password(account, code, coupon, at)
    count("RedemptionsRejected", reason=refused.name)
    if refused is ErrorCode.TOO_MANY_REQUESTS:
        raise CouponError(refused, retry_after=rules.password_lock_seconds(coupon, at)) from None
    raise CouponError(refused) from None


def cancel_redemption(
    account: str, request: "CancelRequest", key: IdempotencyKey | None = None
) -> UseResult | Replayed[UseResult]:
    """Mark one redemption CANCELLED and give its use back, in one transaction (pinning the
    count like redeem, and claiming the Idempotency-Key's record when there is one)."""
    code = rules.normalize_code(request.cpnNo)
    redeemed_at = int(request.rdmId[:12], 16)
    use_count, use_limit = _seen.get((account, code), _FIRST_CANCEL_GUESS)
    for attempt in range(_ATTEMPTS):
        pinned = use_limit != rules.UNLIMITED or attempt < _PINNED_UNLIMITED_ATTEMPTS
        result = _use_result(request.rdmId, max(use_count - 1, 0), use_limit)
        write = _cancellation(
            account, code, request, (use_count, use_limit), pinned=pinned, redeemed_at=redeemed_at
        )
        try:
            replayed = guarded(key, result, write)
        except redemption_items.NotCancellable:
            raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND) from None
        except ConditionFailed as failed:
            coupon = coupon_items.as_coupon(failed.old)
            if coupon is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            use_count, use_limit = int(coupon["useCnt"]), int(coupon["useLimit"])
            continue
        if replayed is not None:
            return replayed
        _remember(account, code, result["useCnt"], use_limit)
        count("RedemptionsCancelled")
        return result
    raise storage_busy()


def _cancellation(
    account: str,
    code: str,
    request: "CancelRequest",
    belief: Belief,
    *,
    pinned: bool,
    redeemed_at: int,
) -> Callable[[Guard | None], None]:
    def write(guard: Guard | None) -> None:
        redemption_items.cancel(
            account,
            code,
            request.rdmId,
            redeemed_ts=redeemed_at,
            cancel_ts=clock.now_ms(),
            memo=request.memo,
            use_count=belief[0] if pinned else None,
            use_limit=belief[1],
            guard=guard,
        )

    return write


def redemption_history(account: str, query: HistoryQuery) -> Page[RedemptionView]:
    """The current coupon's redemption records, newest first, a page at a time."""
    coupon = coupon_items.get(account, query.cpnNo)
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    scope = f"redemptions|{account}|{query.cpnNo}|{coupon['cid']}"
    after = None
    if query.cursor is not None:
        (after,) = cursors.decode(cursors.secret(account), scope, query.cursor, 1)
    records, last = redemption_items.history(
        account, query.cpnNo, since_ts=int(coupon["regTs"]), limit=query.limit, after=after
    )
    return {
        "items": [redemption_view(record) for record in records],
        "cursor": cursors.encode(cursors.secret(account), scope, [last]) if last else None,
    }


def _use_result(rdm_id: str, use_count: int, use_limit: int) -> UseResult:
    return {
        "rdmId": rdm_id,
        "useCnt": use_count,
        "remaining": rules.remaining_uses({"useCnt": use_count, "useLimit": use_limit}),
    }


def _remember(account: str, code: str, use_count: int, use_limit: int) -> None:
    if len(_seen) >= _SEEN_LIMIT:
        _seen.clear()
    _seen[(account, code)] = (use_count, use_limit)
