"""Every key of the table (see the package docstring), in one place."""

from collections.abc import Mapping

from coupons.store.items import AttributeMap, key

COUPON_SK = "C"
REDEMPTION_PREFIX = "R#"
IDEMPOTENCY_SK = "IK"
# Listing indexes (template.yaml): name -> partition key attribute; all sort by the coupon's
# time-ordered instance id `cid`. They project keys only (ByUser also grpIdx), so counting a
# use never writes an index.
BY_ACCOUNT, BY_USER, BY_GROUP = "ByAccount", "ByUser", "ByGroup"
INDEX_PARTITIONS = {BY_ACCOUNT: "acctPK", BY_USER: "userPK", BY_GROUP: "groupPK"}
# Attributes of a coupon item that are keys, not coupon fields.
COUPON_KEY_ATTRIBUTES = frozenset({"PK", "SK", *INDEX_PARTITIONS.values()})


def coupon_pk(account: str, cpn_no: str) -> str:
    return f"A#{account}#C#{cpn_no}"


def coupon_key(account: str, cpn_no: str) -> AttributeMap:
    return key(coupon_pk(account, cpn_no), COUPON_SK)


def redemption_key(account: str, cpn_no: str, rdm_id: str) -> AttributeMap:
    return key(coupon_pk(account, cpn_no), REDEMPTION_PREFIX + rdm_id)


USER_USES_PREFIX = "U#"
NUMBER_SEQUENCE_SK = "N"


def numbered_pk(account: str, kind: str) -> str:
    """The account's templates (TMPL) or groups (GRP) and their number sequence
    (store/numbered.py)."""
    return f"A#{account}#{kind}"


def numbered_key(account: str, kind: str, prefix: str, number: int) -> AttributeMap:
    """One template or group: 10 digits, so that a Query lists them in number order."""
    return key(numbered_pk(account, kind), f"{prefix}{number:010d}")


def user_uses_key(account: str, cpn_no: str, cid: str, user_id: str) -> AttributeMap:
    """The count of one user's uses of a shared code counted per user (DESIGN 2.6), in the
    coupon's partition; per instance (`cid`), so a re-created code starts from 0."""
    return key(coupon_pk(account, cpn_no), f"{USER_USES_PREFIX}{cid}#{user_id}")


def idempotency_pk(account: str, route: str, key_hash: str) -> str:
    return f"A#{account}#IK#{route}#{key_hash}"


PASSWORD_GUARD_SK = "G"


def request_budget_pk(account: str) -> str:
    """The account's request counters, one item a minute (SK: the minute since the epoch)."""
    return f"A#{account}#RATE"


def password_guard_pk(account: str, digest: str = "") -> str:
    """The wrong-password counter of the whole account, or of the account's coupons that share
    the password whose digest this is (rules.password_digest)."""
    return f"A#{account}#PWD" + (f"#{digest}" if digest else "")


def account_pk(account: str) -> str:
    return f"ACCOUNT#{account}"


def api_key_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


def index_partition(account: str, index: str, value: object = None) -> str:
    """The partition of a listing index: the account's coupons, or those of one user or group."""
    if index == BY_USER:
        return f"A#{account}#U#{value}"
    if index == BY_GROUP:
        return f"A#{account}#G#{value}"
    return f"A#{account}"


def index_keys(account: str, coupon: Mapping[str, object]) -> dict[str, str]:
    """The listing-index keys a coupon item carries (ByUser only when it has a user)."""
    keys = {
        "acctPK": index_partition(account, BY_ACCOUNT),
        "groupPK": index_partition(account, BY_GROUP, coupon["grpIdx"]),
    }
    if coupon["userId"]:
        keys["userPK"] = index_partition(account, BY_USER, coupon["userId"])
    return keys


WEBHOOK_SK = "CFG"
DELIVERY_PREFIX = "D#"


def webhook_pk(account: str) -> str:
    """The account's webhook: its settings (SK CFG) and its deliveries (SK D#<event id>)."""
    return f"A#{account}#WH"


def delivery_key(account: str, event_id: str) -> AttributeMap:
    return key(webhook_pk(account), DELIVERY_PREFIX + event_id)
