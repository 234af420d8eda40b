"""The on-site password lockout (rules.PASSWORD_*): a wrong password presented to a redemption
(or to a replay of one) is counted on the coupon by a compare-and-set of its recent failures;
the failure that makes rules.PASSWORD_FAILURES within the window locks it. It is counted the
same way on the counters the coupon shares (store/guards.py): the account's, and that of the
account's coupons with the same password, which lock at their own thresholds."""

from collections.abc import Mapping
from typing import NoReturn

from coupons import containers, rules
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.observability import count
from coupons.records import PasswordGuard, StoredCoupon
from coupons.store import coupons as coupon_items
from coupons.store import guards
from coupons.store.client import ConditionFailed
from coupons.store.keys import password_guard_pk

# Attempts to count one wrong on-site password. Each failed attempt means another failure was
# counted (at most rules.PASSWORD_FAILURES before the lock answers) or a redemption reset them.
_COUNT_ATTEMPTS = 3 * rules.PASSWORD_FAILURES
# What this container last saw of each shared counter: the compare-and-set's first guess, so a
# wrong password costs one request per counter in a warm container.
_counters: dict[str, PasswordGuard] = {}
_COUNTERS_LIMIT = 10_000
containers.on_reset(_counters.clear)


def shared_counters(account: str, presented: rules.Presented) -> list[str]:
    """The shared counters a redemption presenting this password must find unlocked: the
    account's, and that of its coupons with this password (none without a password)."""
    if not presented.digest:
        return []
    return [password_guard_pk(account), password_guard_pk(account, presented.digest)]


def with_shared_locks(
    account: str,
    coupon: StoredCoupon,
    presented: rules.Presented,
    locks: Mapping[str, PasswordGuard],
) -> StoredCoupon:
    """The coupon as locked as the shared locks that hold for it make it (for `refusal` and
    its Retry-After): the account's, and its password's when that is the password presented
    (another password's lock says nothing about this coupon)."""
    if not coupon["onsitePwd"]:
        return coupon
    pks = [password_guard_pk(account)]
    if presented.opens(coupon["onsitePwd"]):
        pks.append(password_guard_pk(account, presented.digest))
    ends = [int(locks[pk].get("pwdLockedUntil") or 0) for pk in pks if pk in locks]
    shared_end = max(ends, default=0)
    if shared_end > int(coupon.get("pwdLockedUntil") or 0):
        return {**coupon, "pwdLockedUntil": shared_end}
    return coupon


def refuse_wrong_password(account: str, code: str, coupon: StoredCoupon, at: int) -> NoReturn:
    """A wrong on-site password: counted towards the coupon's lock and the shared ones, then
    4225, or 4290 when other wrong passwords locked one of them meanwhile (Retry-After: the
    seconds until the last ends)."""
    locked = count_wrong_password(account, code, coupon, at)
    if locked is not None:  # locked meanwhile: refused as locked, counted nowhere
        count("RedemptionsRejected", reason=ErrorCode.TOO_MANY_REQUESTS.name)
        retry_after = rules.password_lock_seconds(locked, at)
        raise CouponError(ErrorCode.TOO_MANY_REQUESTS, retry_after=retry_after)
    lock_end = 0
    shared = [
        (password_guard_pk(account), rules.ACCOUNT_PASSWORD_FAILURES),
        (
            password_guard_pk(account, rules.stored_digest(account, coupon["onsitePwd"])),
            rules.SHARED_PASSWORD_FAILURES,
        ),
    ]
    for pk, limit in shared:
        lock_end = max(lock_end, _count_shared(pk, limit, at))
    seconds = rules.lock_seconds({"pwdLockedUntil": lock_end}, at)
    refused = ErrorCode.TOO_MANY_REQUESTS if seconds else ErrorCode.ONSITE_PASSWORD
    count("RedemptionsRejected", reason=refused.name)
    raise CouponError(refused, retry_after=seconds or None)


def _count_shared(pk: str, limit: int, at: int) -> int:
    """Count one wrong password on a shared counter (compare-and-set, as on a coupon, from what
    this container last saw of it): 0 once counted (also by the failure that locks it), or
    the end of a lock already on it."""
    counter = _counters.get(pk, {})  # what this container last saw of it
    # Each refused attempt means another failure was counted (or the lock set): after `limit`
    # of them the counter is locked, so a request never starves.
    for _ in range(limit + 3):
        failures, locked_until = rules.after_wrong_password(counter, at, limit)
        try:
            guards.count(
                pk,
                seen=counter.get("pwdFailTs"),
                failures=failures,
                locked_until=locked_until,
                now=at,
            )
        except ConditionFailed as failed:
            counter = _counters[pk] = guards.as_guard(failed.old)
            if rules.lock_seconds(counter, at):
                return int(counter.get("pwdLockedUntil") or 0)
            continue
        _remember(pk, {"pwdLockedUntil": locked_until} if locked_until else {"pwdFailTs": failures})
        if locked_until is not None:
            count("PasswordLockouts", scope="shared")
        return 0
    raise storage_busy()


def _remember(pk: str, counter: PasswordGuard) -> None:
    if len(_counters) >= _COUNTERS_LIMIT:
        _counters.clear()
    _counters[pk] = counter


def count_wrong_password(
    account: str, code: str, coupon: StoredCoupon, at: int
) -> StoredCoupon | None:
    """Count one wrong on-site password presented at `at` on `coupon` (as the refused
    redemption returned it): a compare-and-set of its recent failures, repeated on the coupon
    each refusal returns. None once counted (the answer stays 4225, also for the failure that
    locks the coupon); the coupon when it turns out locked already (4290). A coupon deleted or
    re-created meanwhile has nothing to count on (4225)."""
    for _ in range(_COUNT_ATTEMPTS):
        failures, locked_until = rules.after_wrong_password(coupon, at)
        try:
            coupon_items.count_wrong_password(
                account,
                code,
                instance=coupon["cid"],
                seen=coupon.get("pwdFailTs"),
                failures=failures,
                locked_until=locked_until,
                now=at,
            )
        except ConditionFailed as failed:
            now_stored = coupon_items.as_coupon(failed.old)
            if now_stored is None or now_stored["cid"] != coupon["cid"]:
                return None
            coupon = now_stored
            if rules.password_lock_seconds(coupon, at):
                return coupon
            continue
        if locked_until is not None:
            count("PasswordLockouts")
        return None
    raise storage_busy()
