"""Coupon rules that are not field shapes: codes, dates, eligibility and refusal order."""

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from coupons import clock
from coupons.errors import ErrorCode, Reason, invalid_field

if TYPE_CHECKING:
    from coupons.pricing import Order

CODE_PATTERN = re.compile(r"^[A-Z0-9]{8,16}$")
# Generated codes avoid look-alikes: no 0/O and no 1/I.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTHS = (8, 12, 16)
PERCENT, FIXED_AMOUNT = 457, 458
UNLIMITED = 0
NAMED_USER_LIMIT = 2  # a coupon of 2-5 uses belongs to one named user
MAX_USE_LIMIT = 5
MAX_PERCENT = 100
MAX_INDEX = 2**31 - 1  # grpIdx, tmplIdx
MAX_PER_USER_LIMIT = 1000
MAX_TOTAL_LIMIT = 10**9
# A coupon's status (DESIGN 2.6): disable/enable set it at any time, even after use; a coupon
# stored without one is active. A disabled coupon refuses validate and redeem (4231) before any
# other rule; its redemptions can still be cancelled and its terms still edited.
ACTIVE, DISABLED = "ACTIVE", "DISABLED"

# The seed pages' spellings of some fields (DESIGN 2.6), by the real name: accepted wherever the
# real name is, in request bodies (models.parse; the bodies' JSON schema lists them) and query
# strings (queries.py). The real name wins when both are sent (the seed spelling is then
# ignored), and errors name the field by its real name.
SEED_SPELLINGS: Mapping[str, str] = {
    "cpnNo": "cpNo",
    "cpnNoDigits": "cpNoDigits",
    "webhookEnableYn": "webhookEnablYn",
    "userPhnno": "userPhone",
}


def with_real_names[V](sent: Mapping[str, V]) -> dict[str, V]:
    """`sent` with every seed spelling renamed to its real name, unless that is sent too."""
    named = dict(sent)
    for real, seed in SEED_SPELLINGS.items():
        if seed in named:
            value = named.pop(seed)
            named.setdefault(real, value)
    return named


# On-site password lockout (DESIGN 2.5). The PASSWORD_FAILURES-th wrong on-site password within
# any PASSWORD_WINDOW_MS (a sliding window: each failure counts for exactly that long) locks the
# coupon's redemption for PASSWORD_LOCK_MS, even with the right password; a successful
# redemption forgets the failures. Stored on the coupon item: `pwdFailTs`, the times (ms) of
# the recent failures (at most PASSWORD_FAILURES - 1 of them), and `pwdLockedUntil` (ms): the
# coupon is locked while now < pwdLockedUntil. Only a coupon with a password locks.
# In the refusal order the lock (4290) comes right before the password (4225): after 4040,
# 4231, 4220, 4221, 4223 and 4224, which the password does not affect and which a later retry
# would still get, and before 4222, which the password has always hidden.
PASSWORD_FAILURES = 5
PASSWORD_WINDOW_MS = 15 * 60 * 1000
PASSWORD_LOCK_MS = 15 * 60 * 1000
# Guessing across coupons locks too (same window and lock): wrong passwords are also counted
# for all the coupons of the account that share the coupon's password (a bulk batch shares
# one), and for the whole account. The thresholds are higher, so that one customer's typos
# lock only their own coupon: a batch locks after 10 wrong passwords among its coupons, the
# account's on-site redemptions after 50. Only a redemption that presents a password checks
# these locks (one ConditionCheck each in its transaction), and a success does not reset them.
SHARED_PASSWORD_FAILURES = 10
ACCOUNT_PASSWORD_FAILURES = 50


# On-site passwords are stored as digests, never in clear, and never shown (the coupon object
# says only whether there is one). Salted by the account: coupons of one account that share a
# password (a bulk batch) share its digest, which the lockout counts across. Coupons stored
# before digests hold their password in clear; redemption accepts either form.
PASSWORD_DIGEST = "h1:"


def password_digest(account: str, password: str) -> str:
    """How an on-site password is stored ("" for none)."""
    if not password:
        return ""
    salted = f"{account}\n{password}".encode(errors="surrogatepass")
    return PASSWORD_DIGEST + hashlib.sha256(salted).hexdigest()


@dataclass(frozen=True)
class Presented:
    """A password presented to a redemption, in the stored forms it matches: its digest,
    and itself for a coupon stored in clear (a presented text that looks like a digest
    matches only as a digest). Digested once per request."""

    digest: str
    clear: str

    @classmethod
    def of(cls, account: str, password: str) -> "Presented":
        digest = password_digest(account, password)
        return cls(digest, digest if password.startswith(PASSWORD_DIGEST) else password)

    def as_stored(self, stored: str) -> str:
        """In the form the coupon keeps its own password (for `refusal`)."""
        return self.digest if stored.startswith(PASSWORD_DIGEST) else self.clear

    def opens(self, stored: str) -> bool:
        return self.as_stored(stored) == stored


def stored_digest(account: str, stored: str) -> str:
    """The digest of a coupon's password, however it is stored (its shared counter's name)."""
    return stored if stored.startswith(PASSWORD_DIGEST) else password_digest(account, stored)


def normalize_code(raw: object, field: str = "cpnNo") -> str:
    """Strip spaces and dashes, upper-case, then require 8-16 letters or digits."""
    if not isinstance(raw, str) or not raw:
        raise invalid_field(field, Reason.CODE_REQUIRED)
    if not raw.isascii():  # else "ß" would upper-case into "SS" and pass
        raise invalid_field(field, Reason.NOT_A_CODE)
    code = raw.replace(" ", "").replace("-", "").upper()
    if not CODE_PATTERN.fullmatch(code):  # not match: "$" would allow a trailing newline
        raise invalid_field(field, Reason.NOT_A_CODE)
    return code


def generate_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_id(ms: int) -> str:
    """Time-ordered, unguessable id (a coupon's `cid`, an `rdmId`): 12 hex digits of
    milliseconds, 12 random."""
    return f"{ms:012x}{secrets.token_hex(6)}"


def latest_end_date(today: date) -> date:
    """Coupons may run until December 31 of the year after today."""
    return date(today.year + 1, 12, 31)


def use_cap(coupon: Mapping[str, Any]) -> int:
    """How many uses the coupon allows in all: useLimit, or for an unlimited one its
    totalLimit (DESIGN 2.6); 0 = no cap."""
    return int(coupon["useLimit"]) or int(coupon.get("totalLimit") or 0)


def remaining_uses(coupon: Mapping[str, Any]) -> int | None:
    """Uses left before 4222; None when there is no cap."""
    cap = use_cap(coupon)
    if cap == UNLIMITED:
        return None
    return max(0, cap - int(coupon["useCnt"]))


def refusal(  # noqa: PLR0913 - the coupon, and the facts of one request
    coupon: Mapping[str, Any],
    today: date,
    now_ms: int | None = None,
    /,
    *,
    user_id: str,
    onsite_pwd: str = "",
    redeeming: bool,
    order: "Order | None" = None,
    user_uses: int | None = None,
) -> ErrorCode | None:
    """The first rule the coupon fails for this request, in the contract's order: 4231
    (disabled), 4220, 4221, 4223, 4224, 4290 (the password lock, right before the password),
    4225, 4222, 4230, then the order's: 4229 and 4228 (order_refusal).

    An empty `user_id` means the request names no user. Validate (`redeeming=False`) checks
    the user only when one is named and never the on-site password or its lock. `now_ms` is
    the time of the attempt (clock.now_ms(); None: now). `user_uses` is how many uses the
    named user has of a shared code with a perUserLimit (None: not known, not checked). The
    store's redeem condition expression encodes the same rules atomically; this function
    names the one that refused.
    """
    if coupon.get("status", ACTIVE) == DISABLED:
        return ErrorCode.COUPON_DISABLED
    day = today.isoformat()
    if day < coupon["strtYmd"]:
        return ErrorCode.NOT_YET_VALID
    if day > coupon["endYmd"]:
        return ErrorCode.EXPIRED
    return (
        _user_refusal(coupon, user_id, redeeming=redeeming)
        or (_password_refusal(coupon, now_ms, onsite_pwd) if redeeming else None)
        or _count_refusal(coupon, user_id, user_uses)
        or order_refusal(coupon, order, redeeming=redeeming)
    )


def _user_refusal(coupon: Mapping[str, Any], user_id: str, *, redeeming: bool) -> ErrorCode | None:
    """4223: a coupon of 2-5 uses (one named user) or a shared code counted per user, redeemed
    without a user; 4224: another user than the coupon's."""
    per_user = int(coupon.get("perUserLimit") or 0)
    if redeeming and not user_id and (int(coupon["useLimit"]) >= NAMED_USER_LIMIT or per_user):
        return ErrorCode.USER_REQUIRED
    if user_id and coupon["userId"] and user_id != coupon["userId"]:
        return ErrorCode.USER_MISMATCH
    return None


def _password_refusal(
    coupon: Mapping[str, Any], now_ms: int | None, onsite_pwd: str
) -> ErrorCode | None:
    """4290 while the coupon's password is locked, else 4225 for a wrong or missing one."""
    if not coupon["onsitePwd"]:
        return None
    if password_lock_seconds(coupon, clock.now_ms() if now_ms is None else now_ms):
        return ErrorCode.TOO_MANY_REQUESTS
    if onsite_pwd != coupon["onsitePwd"]:
        return ErrorCode.ONSITE_PASSWORD
    return None


def _count_refusal(
    coupon: Mapping[str, Any], user_id: str, user_uses: int | None
) -> ErrorCode | None:
    """4222 when the coupon's uses (useLimit, or totalLimit) are used up; 4230 when the named
    user's of a shared code are (perUserLimit)."""
    if remaining_uses(coupon) == 0:
        return ErrorCode.USAGE_LIMIT_REACHED
    per_user = int(coupon.get("perUserLimit") or 0)
    if per_user and user_id and user_uses is not None and user_uses >= per_user:
        return ErrorCode.USER_LIMIT_REACHED
    return None


def order_refusal(
    coupon: Mapping[str, Any], order: "Order | None", *, redeeming: bool
) -> ErrorCode | None:
    """The order's refusal, in the contract's order (last): 4229, a currency the coupon
    cannot price (4001 on `currency`, or on `amount` for its decimals), 4228, and a redemption
    of a coupon with a minimum without an amount (4001 on `amount`)."""
    minimum = coupon.get("minOrderAmt") or 0
    if order is None:
        if redeeming and minimum:
            raise invalid_field("amount", Reason.AMOUNT_REQUIRED_FOR_MINIMUM)
        return None
    from coupons import pricing

    currency = order.currency_for(coupon)
    if not currency:
        raise invalid_field("currency", Reason.ORDER_CURRENCY_REQUIRED)
    own = coupon.get("discCurrency") or ""
    if own and currency != own and (coupon["discTypeIdx"] != PERCENT or pricing.has_limits(coupon)):
        return ErrorCode.CURRENCY_MISMATCH
    if pricing.decimals(order.amount) > pricing.minor_digits(currency):
        raise invalid_field("amount", Reason.TOO_MANY_DECIMALS)
    if order.amount < pricing.as_decimal(minimum):
        return ErrorCode.BELOW_MINIMUM
    return None


def password_lock_seconds(coupon: Mapping[str, Any], now_ms: int) -> int:
    """Whole seconds until the coupon's password lock ends (its Retry-After), 0 if unlocked;
    never more than the lock lasts (a request whose clock read precedes the locking one's, or
    a container's clock that lags, would see a little more)."""
    if not coupon.get("onsitePwd"):
        return 0
    return lock_seconds(coupon, now_ms)


def after_wrong_password(
    state: Mapping[str, Any], now_ms: int, limit: int = PASSWORD_FAILURES
) -> tuple[list[int], int | None]:
    """The password failures of a coupon (or of a shared counter, with its `limit`) once one
    more happens at `now_ms`: (the failure times to keep, the end of the lock when this
    failure is the one that locks it, else None)."""
    cutoff = now_ms - PASSWORD_WINDOW_MS
    recent = [int(t) for t in state.get("pwdFailTs") or [] if int(t) > cutoff]
    recent.append(now_ms)
    if len(recent) >= limit:
        return [], now_ms + PASSWORD_LOCK_MS
    return recent, None


def lock_seconds(state: Mapping[str, Any], now_ms: int) -> int:
    """Whole seconds until a lock (`pwdLockedUntil`) ends, 0 if there is none now; never more
    than a lock lasts."""
    left = int(state.get("pwdLockedUntil") or 0) - now_ms
    return min(-(-left // 1000), PASSWORD_LOCK_MS // 1000) if left > 0 else 0
