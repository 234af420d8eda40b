"""Redemptions: redeem (with the on-site password lockout), cancel, and the history.

A redemption checks every rule, counts one use and writes its record in one request (store/
redemptions.py). Alone it is a single UpdateItem whose answer is the coupon after the use, so
its count is exact whatever this container knew. With an Idempotency-Key (or shared
wrong-password counters to check) it is a transaction, which answers nothing: it pins what this
container believes about the coupon's count and limit (`_seen`), so that on success the new
count and what remains are known; a wrong belief costs one more request and is corrected from
the coupon the failed condition returns. Cancellation alike."""

from collections.abc import Callable, Mapping, Sequence
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
from coupons.store.redemptions import Belief
from coupons.views import redemption_view

if TYPE_CHECKING:
    from coupons.models import CancelRequest, RedeemRequest

# Attempts of a redemption or cancellation; each failed one means the belief was wrong (another
# use or cancellation landed in between), or the coupon's records had to move out first. In a
# transaction an unlimited coupon's count is pinned on the first attempt only, so that a hot
# coupon cannot starve a request; its reported count is then approximate.
_ATTEMPTS = 12
_PINNED_UNLIMITED_ATTEMPTS = 1
# What this container last saw of a coupon: (useCnt, useLimit). A coupon nobody here has seen
# is most likely unused and single-use; a cancelled redemption most often the only use of a
# single-use coupon.
_seen: dict[tuple[str, str], tuple[int, int]] = {}
_SEEN_LIMIT = 10_000
_FIRST_GUESS = (0, 1)
_FIRST_CANCEL_GUESS = (1, 1)
containers.on_reset(_seen.clear)


def _pinned(belief: tuple[int, int], attempt: int) -> Belief:
    if belief[1] == rules.UNLIMITED and attempt >= _PINNED_UNLIMITED_ATTEMPTS:
        return None, belief[1]
    return belief


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
        attempted_at = clock.now_ms()
        rdm_id = rules.new_id(max(attempted_at, not_before))
        # With a shared counter locked, only a coupon without a password may be redeemed.
        counters = shared_counters(account, presented) if not shared_locks else ()
        single = key is None and not counters  # one UpdateItem, which answers for itself
        pinned = None if single else _pinned(belief, attempt)
        facts = redemption_items.Attempt(
            today=today,
            user_id=request.userId,
            onsite_pwd=(presented.digest, presented.clear),
            record={
                "rdmId": rdm_id,
                "userId": request.userId,
                "memo": request.memo,
                "status": "REDEEMED",
                "regTs": int(rdm_id[:12], 16),
            },
            now=attempted_at,
            belief=pinned,
            without_password=bool(shared_locks),
        )
        write = _redemption(account, code, facts, counters)
        try:
            if single:
                after = write(None)
                assert after is not None
                limit = int(after["useLimit"])
                result = _use_result(rdm_id, int(after["useCnt"]), limit)
                redemption_items.move_out(account, code, after)
            else:
                limit = belief[1]
                result = _use_result(rdm_id, belief[0] + 1, limit)
                replayed = guarded(key, result, write)
                if replayed is not None:
                    return _still_standing(account, code, presented, replayed)
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
            _make_room(account, code, coupon, facts)
            if coupon["onsitePwd"]:
                shared_locks = {}  # none of them holds for it now: check them again
            belief, not_before = (int(coupon["useCnt"]), int(coupon["useLimit"])), coupon["regTs"]
            continue
        _remember(account, code, result["useCnt"], limit)
        count("Redemptions")
        return result
    raise storage_busy()


def _make_room(
    account: str, code: str, coupon: StoredCoupon, attempt: redemption_items.Attempt
) -> None:
    """What a refusal that no rule explains calls for: the coupon's record map (a coupon
    stored before there was one), room in it, or another attempt (a new belief in a
    transaction; a coupon younger than the record; a coupon with a password, tried without
    one while a shared lock held that has ended since); else the condition and the rules
    disagree, which is a bug."""
    records = coupon.get(coupon_items.INLINE)
    pinned = attempt.belief
    if records is None:
        coupon_items.give_records_map(account, code)
    elif len(records) >= redemption_items.MOST_INLINE:
        redemption_items.move_out(account, code, coupon)
    elif coupon["regTs"] > attempt.record["regTs"] or (
        attempt.without_password and coupon["onsitePwd"]
    ):
        return
    elif pinned is None or (
        pinned[1] == coupon["useLimit"] and pinned[0] in (None, coupon["useCnt"])
    ):
        raise RuntimeError("redeem condition refused a coupon the rules accept")


def _redemption(
    account: str, code: str, attempt: redemption_items.Attempt, counters: Sequence[str]
) -> Callable[[Guard | None], StoredCoupon | None]:
    """The write of one attempt, with the shared wrong-password `counters` checked."""

    def write(guard: Guard | None) -> StoredCoupon | None:
        return redemption_items.redeem(
            account, code, attempt, guard=guard, password_guards=counters
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
    """Mark one redemption CANCELLED and give its use back, in one request: one UpdateItem
    when its record is on the coupon and there is no Idempotency-Key, else one transaction
    pinning the count like redeem (and claiming the key's record)."""
    code = rules.normalize_code(request.cpnNo)
    redeemed_at = int(request.rdmId[:12], 16)
    belief = _seen.get((account, code), _FIRST_CANCEL_GUESS)
    inline = True  # most cancellations come soon after the use, its record still on the coupon
    for attempt in range(_ATTEMPTS):
        single = key is None and inline
        write = _cancellation(
            account,
            code,
            request,
            None if single else _pinned(belief, attempt),
            inline=inline,
            redeemed_at=redeemed_at,
        )
        try:
            if single:
                after = write(None)
                assert after is not None
                limit = int(after["useLimit"])
                result = _use_result(request.rdmId, int(after["useCnt"]), limit)
            else:
                limit = belief[1]
                result = _use_result(request.rdmId, max(belief[0] - 1, 0), limit)
                replayed = guarded(key, result, write)
                if replayed is not None:
                    return replayed
        except redemption_items.NotCancellable:
            raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND) from None
        except redemption_items.NotInline:
            inline = False
            continue
        except ConditionFailed as failed:
            coupon = coupon_items.as_coupon(failed.old)
            if coupon is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            belief = int(coupon["useCnt"]), int(coupon["useLimit"])
            continue
        _remember(account, code, result["useCnt"], limit)
        count("RedemptionsCancelled")
        return result
    raise storage_busy()


def _cancellation(
    account: str,
    code: str,
    request: "CancelRequest",
    belief: Belief | None,
    *,
    inline: bool,
    redeemed_at: int,
) -> Callable[[Guard | None], StoredCoupon | None]:
    def write(guard: Guard | None) -> StoredCoupon | None:
        cancellation = redemption_items.Cancellation(
            rdm_id=request.rdmId,
            redeemed_ts=redeemed_at,
            cancel_ts=clock.now_ms(),
            memo=request.memo,
            belief=belief,
        )
        return redemption_items.cancel(account, code, cancellation, inline=inline, guard=guard)

    return write


def redemption_history(account: str, query: HistoryQuery) -> Page[RedemptionView]:
    """The current coupon's redemption records, newest first, a page at a time: those on the
    coupon item and those moved out, merged."""
    # Both reads strongly consistent, the coupon first: records moved out in between are then
    # in both (the moved copy, read last, wins), never in neither.
    coupon = coupon_items.get(account, query.cpnNo, consistent=True)
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    scope = f"redemptions|{account}|{query.cpnNo}|{coupon['cid']}"
    before = None
    if query.cursor is not None:
        (before,) = cursors.decode(cursors.secret(account), scope, query.cursor, 1)
    moved = redemption_items.history(
        account, query.cpnNo, since_ts=int(coupon["regTs"]), limit=query.limit + 1, before=before
    )
    inline = [
        record
        for record in redemption_items.inline_records(coupon)
        if before is None or record["rdmId"] < before
    ]
    by_id = {record["rdmId"]: record for record in [*inline, *moved]}
    # One more than asked tells whether there is a next page.
    records = sorted(by_id.values(), key=lambda record: record["rdmId"], reverse=True)
    page = records[: query.limit]
    more = len(records) > query.limit
    return {
        "items": [redemption_view(record) for record in page],
        "cursor": cursors.encode(cursors.secret(account), scope, [page[-1]["rdmId"]])
        if more
        else None,
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
