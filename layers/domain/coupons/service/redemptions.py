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
from typing import TYPE_CHECKING, Any, cast

from coupons import clock, containers, cursors, pricing, rules
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.idempotency import IdempotencyKey, Replayed, guarded
from coupons.observability import count
from coupons.queries import HistoryQuery
from coupons.records import (
    Page,
    PasswordGuard,
    RedemptionRecord,
    RedemptionView,
    StoredCoupon,
    UseResult,
)
from coupons.service.lockout import refuse_wrong_password, shared_counters, with_shared_locks
from coupons.store import coupons as coupon_items
from coupons.store import redemptions as redemption_items
from coupons.store.client import ConditionFailed
from coupons.store.idempotency import Guard
from coupons.store.redemptions import Belief
from coupons.views import priced, redemption_view

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


# What this container last saw of a coupon's terms (`_TERMS`, with its version `ver` and
# instance `cid`): what a transaction pins and prices an order with, and whether the coupon
# counts uses per user.
_terms: dict[tuple[str, str], StoredCoupon] = {}
_TERMS = (
    "useCnt",
    "useLimit",
    "totalLimit",
    "perUserLimit",
    "cid",
    "ver",
    "discTypeIdx",
    "disc",
    "discCurrency",
    "maxDiscAmt",
    "minOrderAmt",
)
containers.on_reset(_terms.clear)


def _learn(account: str, code: str, coupon: StoredCoupon | None) -> StoredCoupon:
    """Remember the coupon's terms (4040 when there is no coupon)."""
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    if len(_terms) >= _SEEN_LIMIT:
        _forget_all()
    terms = cast(StoredCoupon, {name: coupon[name] for name in _TERMS if name in coupon})  # type: ignore[literal-required]
    _terms[(account, code)] = terms
    return terms


def _pinned(belief: tuple[int, int], attempt: int) -> Belief:
    """The count and limit a transaction pins: an unlimited coupon's count (also one capped
    by totalLimit, which its condition enforces) only on the first attempt, so that a hot
    shared code cannot starve a request (its count and `remaining` are then approximate)."""
    if belief[1] == rules.UNLIMITED and attempt >= _PINNED_UNLIMITED_ATTEMPTS:
        return None, belief[1]
    return belief


def redeem_coupon(
    account: str,
    request: "RedeemRequest",
    key: IdempotencyKey | None = None,
    language: str = "en",
    *,
    on_site: str | None = None,
) -> UseResult | Replayed[UseResult]:
    """Count one use of the coupon under every rule (see the module docstring). A wrong
    on-site password is then counted towards the coupon's lock by one more request.

    `on_site` (the coupon's page, DESIGN 2.8): the instance (`cid`) the page opened, which
    must still be an on-site coupon with a password when the use is counted (NotOnSite)."""
    code = rules.normalize_code(request.cpnNo)
    today = clock.today().isoformat()
    order = request.order()
    belief = _seen.get((account, code), _FIRST_GUESS)
    terms = _terms.get((account, code))
    if terms is None and order is not None and (key is not None or request.onsitePwd):
        # A transaction (a key; a password, whose shared counters it checks) answers nothing:
        # the discount it reports needs the coupon's terms.
        terms = _learn(account, code, coupon_items.get(account, code))
        belief = int(terms["useCnt"]), int(terms["useLimit"])
    not_before = 0  # the record's time must not precede the coupon's creation
    presented = rules.Presented.of(account, request.onsitePwd)
    shared_locks: dict[str, PasswordGuard] = {}  # shared wrong-password counters found locked
    for attempt in range(_ATTEMPTS):
        attempted_at = clock.now_ms()
        rdm_id = rules.new_id(max(attempted_at, not_before))
        # With a shared counter locked, only a coupon without a password may be redeemed.
        counters = shared_counters(account, presented) if not shared_locks else ()
        per_user = _per_user(terms, request.userId)
        # One UpdateItem, which answers for itself; else a transaction, pinned to beliefs.
        single = key is None and not counters and per_user is None
        quote = None if single or order is None or terms is None else pricing.quote(terms, order)
        facts = redemption_items.Attempt(
            today=today,
            user_id=request.userId,
            onsite_pwd=(presented.digest, presented.clear),
            record=_record(rdm_id, request, order, quote),
            now=attempted_at,
            belief=None if single else _pinned(belief, attempt),
            without_password=bool(shared_locks),
            order=order,
            per_user=per_user,
            version=None if single or terms is None else (str(terms["cid"]), int(terms["ver"])),
            on_site=on_site,
        )
        write = _redemption(account, code, facts, counters)
        try:
            if single:
                after = write(None)
                assert after is not None
                terms = _learn(account, code, after)
                result = _counted(rdm_id, after, order, language)
                redemption_items.move_out(account, code, after)
            else:
                counted = {**(terms or {}), "useCnt": belief[0] + 1, "useLimit": belief[1]}
                result = _use_result(rdm_id, belief[0] + 1, counted)
                if quote is not None:
                    result.update(priced(quote, language))  # type: ignore[typeddict-item]
                replayed = guarded(key, result, write)
                if replayed is not None:
                    return _still_standing(account, code, presented, replayed)
        except redemption_items.Refused as failed:
            shared_locks |= failed.locks
            if not failed.coupon_failed:
                _refuse_user(failed)
                continue  # the coupon's own rules held: try it as a coupon without a password
            coupon = _refused(
                account,
                code,
                request,
                failed,
                on_site=on_site,
                when=(today, attempted_at),
                presented=presented,
                shared_locks=shared_locks,
            )
            _make_room(account, code, coupon, facts)
            if coupon["onsitePwd"]:
                shared_locks = {}  # none of them holds for it now: check them again
            terms = _learn(account, code, coupon)
            belief, not_before = (int(coupon["useCnt"]), int(coupon["useLimit"])), coupon["regTs"]
            continue
        _remember(
            account, code, result["useCnt"], belief[1] if terms is None else int(terms["useLimit"])
        )
        count("Redemptions")
        return result
    raise storage_busy()


def _counted(
    rdm_id: str, after: StoredCoupon, order: pricing.Order | None, language: str
) -> UseResult:
    """The answer of a redemption whose write returned the coupon after it."""
    result = _use_result(rdm_id, int(after["useCnt"]), after)
    if order is not None:
        result.update(priced(pricing.quote(after, order), language))  # type: ignore[typeddict-item]
    return result


def _refuse_user(failed: redemption_items.Refused) -> None:
    """4230 when the coupon's rules held and only the user's count refused (a shared lock
    found locked comes first: the redemption is tried again without a password)."""
    if failed.user_failed and not failed.locks:
        count("RedemptionsRejected", reason=ErrorCode.USER_LIMIT_REACHED.name)
        raise CouponError(ErrorCode.USER_LIMIT_REACHED)


def _per_user(terms: StoredCoupon | None, user_id: str) -> redemption_items.PerUser | None:
    """How the redemption counts the user's uses: on their own item when the coupon (as this
    container knows it) is a shared code with a perUserLimit and a user is named."""
    if terms is None or not user_id:
        return None
    limit = int(terms.get("perUserLimit") or 0)
    if not limit:
        return None
    return redemption_items.PerUser(limit, str(terms["cid"]))


def _record(
    rdm_id: str, request: "RedeemRequest", order: pricing.Order | None, quote: pricing.Quote | None
) -> RedemptionRecord:
    """The redemption's record: its order's amount and currency (the coupon's when the
    request names none: filled in with the discount when it is known, see
    store/redemptions.py)."""
    record: RedemptionRecord = {
        "rdmId": rdm_id,
        "userId": request.userId,
        "memo": request.memo,
        "status": "REDEEMED",
        "regTs": int(rdm_id[:12], 16),
    }
    if order is not None:
        record["amount"] = order.amount  # type: ignore[typeddict-item]  # stored exact
        if quote is not None:
            record["currency"] = quote.currency
            record["discAmt"] = quote.discAmt  # type: ignore[typeddict-item]
        elif order.currency:
            record["currency"] = order.currency
    return record


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
    per_user = attempt.per_user
    counted_per_user = bool(coupon.get("perUserLimit")) and bool(attempt.user_id)
    if counted_per_user != (per_user is not None) or (
        per_user is not None
        and (per_user.limit, per_user.cid) != (coupon.get("perUserLimit"), coupon["cid"])
    ):
        return  # counted per user or not, as the coupon now is
    if attempt.version not in (None, (coupon["cid"], coupon["ver"])):
        return  # its terms changed, or it is another instance of the code
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


class NotOnSite(Exception):
    """A use from the coupon's page found the coupon no longer on site with a password (or
    another coupon under its code): nothing was counted."""


def _still_on_site(old: Mapping[str, Any] | None, instance: str) -> None:
    if old is None:
        return  # gone: 4040, from _refused
    if old.get("cid") != instance or old.get("onsiteYn") != "Y" or not old.get("onsitePwd"):
        raise NotOnSite()


def _refused(  # noqa: PLR0913 - the request, and what its refusal returned
    account: str,
    code: str,
    request: "RedeemRequest",
    failed: redemption_items.Refused,
    *,
    when: tuple[str, int],
    presented: rules.Presented,
    shared_locks: Mapping[str, PasswordGuard],
    on_site: str | None = None,
) -> StoredCoupon:
    """The coupon a refused redemption returned, when no rule refuses it (the belief pinned
    in the condition was wrong); else the error for the first rule that does, judged on the
    day and at the time (ms) the condition was, with the shared locks that hold for it."""
    if on_site is not None:
        _still_on_site(failed.old, on_site)
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
        order=request.order(),
        # The user's own count refused too: they are at the coupon's perUserLimit.
        user_uses=int(coupon.get("perUserLimit") or 0) if failed.user_at_limit(coupon) else None,
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
    user: _UserUse | None = None  # a use counted per user too: whose, under which terms
    for attempt in range(_ATTEMPTS):
        single = key is None and inline and user is None
        write = _cancellation(
            account,
            code,
            request,
            None if single else _pinned(belief, attempt),
            inline=inline,
            redeemed_at=redeemed_at,
            user=user,
        )
        try:
            if single:
                after = write(None)
                assert after is not None
                _learn(account, code, after)
                limit = int(after["useLimit"])
                result = _use_result(request.rdmId, int(after["useCnt"]), after)
            else:
                limit = belief[1]
                known: dict[str, Any] = {**_terms.get((account, code), {}), "useLimit": limit}
                result = _use_result(request.rdmId, max(belief[0] - 1, 0), known)
                replayed = guarded(key, result, write)
                if replayed is not None:
                    return replayed
        except redemption_items.NotCancellable:
            raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND) from None
        except redemption_items.NotInline:
            inline = False
            continue
        except redemption_items.CountedPerUser as counted:
            holder = _learn(account, code, counted.coupon)
            user = _user_use(account, code, request.rdmId, counted.coupon)
            belief = int(holder["useCnt"]), int(holder["useLimit"])
            continue
        except ConditionFailed as failed:
            coupon = _learn(account, code, coupon_items.as_coupon(failed.old))
            belief = int(coupon["useCnt"]), int(coupon["useLimit"])
            continue
        _remember(account, code, result["useCnt"], limit)
        count("RedemptionsCancelled")
        return result
    raise storage_busy()


# A use counted per user: the coupon's perUserLimit and instance, and the user.
type _UserUse = tuple[redemption_items.PerUser, str]


def _user_use(account: str, code: str, rdm_id: str, coupon: StoredCoupon) -> _UserUse:
    """Whose count a cancellation gives the use back to: the record's user (on the coupon,
    else read from its own item: one more request)."""
    record = (coupon.get(coupon_items.INLINE) or {}).get(rdm_id)
    if record is None:
        moved = redemption_items.moved_record(account, code, rdm_id)
        if moved is None:
            raise CouponError(ErrorCode.REDEMPTION_NOT_FOUND)
        record = moved
    per_user = redemption_items.PerUser(int(coupon.get("perUserLimit") or 0), coupon["cid"])
    return per_user, record["userId"]


def _cancellation(  # noqa: PLR0913 - the request, and what the attempt believes
    account: str,
    code: str,
    request: "CancelRequest",
    belief: Belief | None,
    *,
    inline: bool,
    redeemed_at: int,
    user: "_UserUse | None",
) -> Callable[[Guard | None], StoredCoupon | None]:
    def write(guard: Guard | None) -> StoredCoupon | None:
        cancellation = redemption_items.Cancellation(
            rdm_id=request.rdmId,
            redeemed_ts=redeemed_at,
            cancel_ts=clock.now_ms(),
            memo=request.memo,
            belief=belief,
            per_user=None if user is None else user[0],
            user_id="" if user is None else user[1],
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
    by_id = {record["rdmId"]: pricing.completed(record, coupon) for record in [*inline, *moved]}
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


def _use_result(rdm_id: str, use_count: int, coupon: Mapping[str, Any]) -> UseResult:
    """The answer: the coupon's count after, and what remains of its cap (useLimit, or
    totalLimit; None when there is none)."""
    return {
        "rdmId": rdm_id,
        "useCnt": use_count,
        "remaining": rules.remaining_uses({**coupon, "useCnt": use_count}),
    }


def _forget_all() -> None:
    """Both beliefs go together: a count believed without its coupon's terms would answer a
    transaction's `remaining` without its totalLimit."""
    _seen.clear()
    _terms.clear()


def _remember(account: str, code: str, use_count: int, use_limit: int) -> None:
    if len(_seen) >= _SEEN_LIMIT:
        _forget_all()
    _seen[(account, code)] = (use_count, use_limit)
