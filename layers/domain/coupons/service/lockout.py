"""The on-site password lockout (rules.PASSWORD_*): a wrong password presented to a redemption
(or to a replay of one) is counted on the coupon by a compare-and-set of its recent failures;
the failure that makes rules.PASSWORD_FAILURES within the window locks it."""

from typing import NoReturn

from coupons import rules
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.observability import count
from coupons.records import StoredCoupon
from coupons.store import coupons as coupon_items
from coupons.store.client import ConditionFailed

# Attempts to count one wrong on-site password. Each failed attempt means another failure was
# counted (at most rules.PASSWORD_FAILURES before the lock answers) or a redemption reset them.
_COUNT_ATTEMPTS = 3 * rules.PASSWORD_FAILURES


def refuse_wrong_password(account: str, code: str, coupon: StoredCoupon, at: int) -> NoReturn:
    """A wrong on-site password: counted towards the coupon's lock, then 4225, or 4290 when
    other wrong passwords locked it meanwhile (Retry-After: the seconds until it ends)."""
    locked = count_wrong_password(account, code, coupon, at)
    refused = ErrorCode.ONSITE_PASSWORD if locked is None else ErrorCode.TOO_MANY_REQUESTS
    count("RedemptionsRejected", reason=refused.name)
    if locked is not None:
        raise CouponError(refused, retry_after=rules.password_lock_seconds(locked, at))
    raise CouponError(refused)


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
