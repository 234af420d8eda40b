"""Coupon items: read, create (one or a batch), edit, disable/enable, delete, and count a wrong
on-site password.

Redemption (which changes a coupon and writes a record in one transaction) is in
redemptions.py; the listing indexes' keys are in keys.py.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from coupons import settings
from coupons.errors import storage_busy
from coupons.records import StoredCoupon
from coupons.store.client import Cancelled, ConditionFailed, backoff, request, transact
from coupons.store.items import (
    AttributeMap,
    Item,
    assignments,
    from_item,
    to_attr,
    to_item,
    values,
)
from coupons.store.keys import (
    BY_GROUP,
    BY_USER,
    COUPON_KEY_ATTRIBUTES,
    COUPON_SK,
    REDEMPTION_PREFIX,
    coupon_key,
    coupon_pk,
    index_keys,
    index_partition,
    user_uses_key,
)
from coupons.store.numbered import (
    GROUPS,
    TEMPLATES,
    Kind,
    Missing,
    Moves,
    count_references,
    repointed,
    with_counts,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        DeleteTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

# The on-site password lock has ended, or there never was one (rules.PASSWORD_*).
UNLOCKED = "(attribute_not_exists(pwdLockedUntil) OR pwdLockedUntil <= :now)"
# The coupon's own redemption records, rdmId -> record (store/redemptions.py).
INLINE: Final = "rdm"
# Attempts of a delete that moves the coupon's records out, each refused by a redemption or
# cancellation that landed in between.
_DELETE_ATTEMPTS = 12


def as_coupon(item: Item | None) -> StoredCoupon | None:
    """The coupon in a stored item, without its keys."""
    if item is None:
        return None
    return cast(
        StoredCoupon,
        {name: value for name, value in item.items() if name not in COUPON_KEY_ATTRIBUTES},
    )


def guarded_update(
    account: str,
    cpn_no: str,
    expression: str,
    condition: str,
    attrs: AttributeMap,
    names: dict[str, str] | None = None,
) -> "UpdateTypeDef":
    """An update of the coupon under `condition`; when the condition fails, the coupon as it
    was comes back with the refusal (ConditionFailed.old, Cancelled.old)."""
    update: UpdateTypeDef = {
        "TableName": settings.current().table_name,
        "Key": coupon_key(account, cpn_no),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": attrs,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return update


def returned_coupon(update: "UpdateTypeDef") -> StoredCoupon:
    """Apply `update` (one UpdateItem, never sent twice: it counts a use or gives one back)
    and return the coupon as it is after it."""
    response = request(
        lambda db, _table: db.update_item(**update, ReturnValues="ALL_NEW"), resend=False
    )
    coupon = as_coupon(from_item(response.get("Attributes")))
    assert coupon is not None, "an update under attribute_exists(PK) returns the item"
    return coupon


def moved_out(
    account: str,
    cpn_no: str,
    records: Mapping[str, Mapping[str, object]],
    coupon: Mapping[str, Any],
) -> "list[TransactWriteItemTypeDef]":
    """The puts that give each of the coupon's own records an item of its own (SK R#<rdmId>),
    with their order's discount (pricing.completed)."""
    from coupons.pricing import completed

    table = settings.current().table_name
    return [
        {
            "Put": {
                "TableName": table,
                "Item": to_item(
                    {
                        "PK": coupon_pk(account, cpn_no),
                        "SK": REDEMPTION_PREFIX + rdm_id,
                        "rdmId": rdm_id,
                        **completed(fields, coupon),
                    }
                ),
            }
        }
        for rdm_id, fields in records.items()
    ]


def give_records_map(account: str, cpn_no: str) -> None:
    """Give a coupon stored before records were kept on it its (empty) record map."""
    try:
        request(
            lambda db, table: db.update_item(
                TableName=table,
                Key=coupon_key(account, cpn_no),
                UpdateExpression="SET rdm = :empty",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(rdm)",
                ExpressionAttributeValues={":empty": {"M": {}}},
            )
        )
    except ConditionFailed:
        return  # gone, or given it meanwhile


def get(account: str, cpn_no: str, *, consistent: bool = False) -> StoredCoupon | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=coupon_key(account, cpn_no), ConsistentRead=consistent
        )
    )
    return as_coupon(from_item(response.get("Item")))


def user_uses(account: str, cpn_no: str, cid: str, user_id: str) -> int:
    """How many uses the user has of the coupon (instance `cid`) counted per user
    (store/redemptions.py counts them). One eventually consistent GetItem."""
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=user_uses_key(account, cpn_no, cid, user_id)
        )
    )
    found = from_item(response.get("Item"))
    return int(found["n"]) if found else 0


def _new_coupon_put(table: str, account: str, coupon: StoredCoupon) -> "PutTypeDef":
    item = {
        "PK": coupon_pk(account, coupon["cpnNo"]),
        "SK": COUPON_SK,
        **index_keys(account, coupon),
        **coupon,
        INLINE: {},
    }
    return {
        "TableName": table,
        "Item": to_item(item),
        "ConditionExpression": "attribute_not_exists(PK)",
    }


# What a coupon may refer to, each counted on (store/numbered.py).
REFERENTS = (GROUPS, TEMPLATES)


def references(coupon: Mapping[str, Any]) -> dict[Kind, int]:
    """The group and template the coupon is counted on (those it has)."""
    held = {kind: int(coupon.get(kind.ref) or 0) for kind in REFERENTS}
    return {kind: number for kind, number in held.items() if number}


def put_new(account: str, coupon: StoredCoupon) -> bool:
    """Create the coupon unless its code is taken; False when it is. A coupon that refers to
    a group or template (`grpRef`, `tmplRef`) is counted on it in the same transaction
    (numbered.Missing when it is not there)."""
    put = _new_coupon_put(settings.current().table_name, account, coupon)
    held = references(coupon)
    try:
        if held:
            with_counts(account, {"Put": put}, {kind: (0, n) for kind, n in held.items()})
        else:
            request(lambda db, _table: db.put_item(**put))
    except ConditionFailed:
        return False
    return True


def put_new_batch(account: str, coupons: Sequence[StoredCoupon]) -> list[int]:
    """Create all the coupons in one transaction, or none. Returns the positions whose code
    is taken (nothing was written then); [] on success.

    Coupons that refer to a group or template (all of a batch refer to the same ones) are
    counted on it first, all at once (a transaction holds at most 100 actions: the batch's 100
    puts leave no room), and the counts are taken back if the batch is not written. A count
    left over by a function that died in between only keeps a group or template from being
    deleted; a coupon never refers to a missing one."""
    table = settings.current().table_name
    held = references(coupons[0]) if coupons else {}
    counted: list[tuple[Kind, int]] = []
    unwritten = False  # known not to be written: the counts go back
    try:
        for kind, number in held.items():
            try:
                count_references(account, kind, number, len(coupons))
            except Missing:
                unwritten = True
                raise
            counted.append((kind, number))
        try:
            transact([{"Put": _new_coupon_put(table, account, coupon)} for coupon in coupons])
        except Cancelled as cancelled:
            unwritten = True
            taken = [position for position in range(len(coupons)) if cancelled.failed(position)]
            if not taken:
                raise
            return taken
    finally:
        # Not when the outcome is unknown (an answer lost in transit): a count too high only
        # keeps a group or template from being deleted; one too low would let it go while
        # coupons refer to it.
        if unwritten:
            for kind, number in counted:
                count_references(account, kind, number, -len(coupons))
    return []


def update(  # noqa: PLR0913 - the compare-and-set's facts
    account: str,
    cpn_no: str,
    changes: Mapping[str, object],
    *,
    instance: str,
    version: int | None,
    unused_only: bool,
    unpriced_only: bool = False,
    moves: Moves | None = None,
) -> None:
    """Set `changes` on the coupon if it is still the same instance, at the same version
    (None: at any), when `unused_only` still unused, and when `unpriced_only` it never priced
    an order. Raises ConditionFailed with the old item otherwise.

    `moves` (another group or template: the one it is counted on, the one it is to refer to)
    moves its counts in the same transaction (numbered.Missing when the new one is not
    there)."""
    changes = dict(changes)
    removals = []
    if "userId" in changes:  # the coupon moves to another user's listing, or out of it
        if changes["userId"]:
            changes["userPK"] = index_partition(account, BY_USER, changes["userId"])
        else:
            removals.append("userPK")
    if "grpIdx" in changes:
        changes["groupPK"] = index_partition(account, BY_GROUP, changes["grpIdx"])
    sets, names, attrs = assignments(changes)
    reference_sets, reference_removals, conditions, pins = repointed(moves or {})
    conditions.insert(0, "cid = :cid")
    if version is not None:
        conditions.append("ver = :ver")
        sets.append("ver = ver + :one")  # an edit of terms moves the version on; the memo not
    if unused_only:
        conditions.append("useCnt = :zero")
    if unpriced_only:  # see pricing.PRICING_TERMS
        conditions.append("attribute_not_exists(priced)")
    expression = "SET " + ", ".join([*sets, *reference_sets])
    removals += reference_removals
    if removals:
        expression += " REMOVE " + ", ".join(removals)
    pinned = values(
        cid=instance,
        **({} if version is None else {"ver": version, "one": 1}),
        **({"zero": 0} if unused_only else {}),
    )
    update = guarded_update(
        account, cpn_no, expression, " AND ".join(conditions), {**attrs, **pinned, **pins}, names
    )
    if moves:
        with_counts(account, {"Update": update}, moves)
    else:
        request(lambda db, _table: db.update_item(**update))


def set_status(account: str, cpn_no: str, status: str) -> bool:
    """Set the coupon's status (rules.ACTIVE, rules.DISABLED); False if there is no coupon.
    One UpdateItem, so it is ordered with the redemptions of the coupon (DynamoDB serializes
    the writes to an item): a redemption that comes after a disable meets it in its condition.
    Setting the status it already has changes nothing else."""
    update = guarded_update(
        account,
        cpn_no,
        "SET #cst = :status",
        "attribute_exists(PK)",
        values(status=status),
        {"#cst": "status"},
    )
    try:
        request(lambda db, _table: db.update_item(**update))
    except ConditionFailed:
        return False
    return True


def delete(account: str, cpn_no: str) -> bool:
    """Delete the coupon; False if there was none. Its redemption records stay: those on the
    coupon item move to items of their own in the same transaction, and the group and template
    it is counted on count it no more (one more request, only for a coupon that has any)."""
    records: Mapping[str, Mapping[str, object]] | None = None
    holder: Item = {}  # the coupon the records are on
    held: dict[Kind, int] = {}  # what the coupon is counted on
    for attempt in range(_DELETE_ATTEMPTS):
        if records is None:
            condition = "attribute_exists(PK) AND (attribute_not_exists(rdm) OR size(rdm) = :zero)"
            attrs = values(zero=0)
        else:
            condition, attrs = "rdm = :records", {":records": to_attr(dict(records))}
        moves = {kind: (held.get(kind, 0), 0) for kind in REFERENTS}
        _, _, pins, pinned = repointed(moves)
        action: DeleteTypeDef = {
            "TableName": settings.current().table_name,
            "Key": coupon_key(account, cpn_no),
            "ConditionExpression": " AND ".join([condition, *pins]),
            "ExpressionAttributeValues": {**attrs, **pinned},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            if records is None and not held:
                _delete_item(action)
            else:
                also = moved_out(account, cpn_no, records or {}, holder)
                with_counts(account, {"Delete": action}, moves, also)
            return True
        except ConditionFailed as failed:
            old = failed.old
        if old is None:
            return False
        if records is not None:  # the move was refused by a change in between: wait a little
            backoff(attempt)
        records, holder = old.get(INLINE) or None, old
        held = references(old)
    raise storage_busy()


def _delete_item(action: "DeleteTypeDef") -> None:
    request(lambda db, _table: db.delete_item(**action))


def failure_update(
    seen: Sequence[int] | None,
    failures: Sequence[int],
    locked_until: int | None,
    now: int,
    *,
    also_set: str = "",
) -> tuple[str, str, AttributeMap]:
    """The compare-and-set that counts one wrong password on an item holding `pwdFailTs` and
    `pwdLockedUntil` (a coupon, or a shared counter): (condition, update, values). It applies
    only while the item is not locked at `now` and still holds exactly the failures `seen`
    (None: none); it stores `failures`, or the lock that ends at `locked_until`."""
    condition = f"{UNLOCKED} AND " + (
        "attribute_not_exists(pwdFailTs)" if seen is None else "pwdFailTs = :seen"
    )
    attrs = values(now=now, **({} if seen is None else {"seen": list(seen)}))
    extra = f", {also_set}" if also_set else ""
    if locked_until is not None:
        attrs.update(values(until=locked_until))
        return condition, f"SET pwdLockedUntil = :until{extra} REMOVE pwdFailTs", attrs
    attrs.update(values(failures=list(failures)))
    return condition, f"SET pwdFailTs = :failures{extra} REMOVE pwdLockedUntil", attrs


def count_wrong_password(  # noqa: PLR0913 - the compare-and-set's facts
    account: str,
    cpn_no: str,
    *,
    instance: str,
    seen: Sequence[int] | None,
    failures: Sequence[int],
    locked_until: int | None,
    now: int,
) -> None:
    """Count one wrong on-site password on the coupon: store `failures` as its recent
    failure times or, when this failure locks it, set `pwdLockedUntil = locked_until` and drop
    them (rules.after_wrong_password computes both from `seen`).

    A compare-and-set: it applies only if the coupon is still instance `instance`, is not
    locked at `now`, and still holds exactly the failure times `seen` (None: none), so
    concurrent failures are each counted once and the one that locks is exactly the
    rules.PASSWORD_FAILURES-th. Raises ConditionFailed with the coupon as it is now (None if
    gone) otherwise. Never creates an item."""
    condition, expression, attrs = failure_update(seen, failures, locked_until, now)
    attrs.update(values(cid=instance))
    update = guarded_update(account, cpn_no, expression, f"cid = :cid AND {condition}", attrs)
    request(lambda db, _table: db.update_item(**update))
