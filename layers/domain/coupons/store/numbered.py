"""What an account numbers 1, 2, 3 ... (DESIGN 2.7): templates and groups. Each kind has one
partition of the account's own (keys.numbered_pk): its number sequence (SK N) and one item per
template or group (keys.numbered_key).

References. A coupon may refer to a group and a template, a group to a template. Each referrer
is counted on what it refers to (`Kind.tally`) in the same transaction as its own write, and
keeps the number it is counted on (`Kind.ref`). So something referred to is never deleted (the
delete needs the count at 0, in its condition), and nothing comes to refer to something being
deleted (the count needs it to exist). A referrer stored before references were counted may
carry a number without its `ref`: it is not counted."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from coupons import settings
from coupons.errors import storage_busy
from coupons.observability import count
from coupons.store.client import Cancelled, ConditionFailed, get_many, request, transact
from coupons.store.items import AttributeMap, Item, assignments, from_item, key, to_item, values
from coupons.store.keys import NUMBER_SEQUENCE_SK, numbered_key, numbered_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        DeleteTypeDef,
        PutTypeDef,
        QueryInputTypeDef,
        QueryOutputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )


class Kind(NamedTuple):
    """A kind of numbered thing, and how references to it are kept."""

    field: str  # its number, as a referrer names it
    ref: str  # on a referrer: the number it is counted on
    tally: str  # on the thing: how many referrers are counted on it
    partition: str  # keys.numbered_pk
    prefix: str  # of its items' sort keys

    def key(self, account: str, number: int) -> AttributeMap:
        return numbered_key(account, self.partition, self.prefix, number)


TEMPLATES = Kind("tmplIdx", "tmplRef", "refCnt", "TMPL", "T#")  # coupons and groups count
GROUPS = Kind("grpIdx", "grpRef", "couponCnt", "GRP", "G#")  # coupons count

# A referrer's moves, per kind: (the number it is counted on, the one it is to refer to);
# 0 for none.
type Moves = Mapping[Kind, tuple[int, int]]


class Missing(Exception):
    """What a referrer is to refer to does not exist (in its account)."""

    def __init__(self, kind: Kind) -> None:
        super().__init__(f"no such {kind.field}")
        self.kind = kind


class InUse(Exception):
    """Something refers to it (its count is not 0)."""


def next_number(kind: Kind, account: str) -> int:
    """The account's next number of this kind (one UpdateItem of its sequence; never reused)."""
    response = request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(numbered_pk(account, kind.partition), NUMBER_SEQUENCE_SK),
            UpdateExpression="SET n = if_not_exists(n, :zero) + :one",
            ExpressionAttributeValues=values(zero=0, one=1),
            ReturnValues="UPDATED_NEW",
        )
    )
    return int(response["Attributes"]["n"]["N"])


def put_new(kind: Kind, account: str, number: int, fields: Item, moves: Moves) -> None:
    """Store a new one; counted on what it refers to (`moves`) in the same transaction."""
    put: PutTypeDef = {
        "TableName": settings.current().table_name,
        "Item": {**kind.key(account, number), **to_item(fields)},
        "ConditionExpression": "attribute_not_exists(PK)",
    }
    if not any(refers_to for _, refers_to in moves.values()):
        request(lambda db, _table: db.put_item(**put))
    else:
        with_counts(account, {"Put": put}, moves)


def get(kind: Kind, account: str, number: int, *, consistent: bool = False) -> Item | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=kind.key(account, number), ConsistentRead=consistent
        )
    )
    return _without_keys(from_item(response.get("Item")))


def get_several(kind: Kind, account: str, numbers: Sequence[int]) -> dict[int, Item]:
    """Those of `numbers` that exist, by number (one BatchGetItem; none without numbers)."""
    if not numbers:
        return {}
    found = get_many([kind.key(account, number) for number in dict.fromkeys(numbers)])
    return {int(item[kind.field]): item for item in map(_without_keys, found) if item}


def update(
    kind: Kind, account: str, number: int, changes: Mapping[str, object], moves: Moves
) -> bool:
    """Set `changes`; False if there is none. One UpdateItem, or with `moves` (it refers to
    something else) a transaction that moves its counts: Missing when the new one is not
    there, ConditionFailed when it was counted elsewhere meanwhile (read it again)."""
    sets, names, attrs = assignments(changes)
    more_sets, removals, conditions, pinned = repointed(moves)
    expression = "SET " + ", ".join([*sets, *more_sets])
    if removals:
        expression += " REMOVE " + ", ".join(removals)
    change: UpdateTypeDef = {
        "TableName": settings.current().table_name,
        "Key": kind.key(account, number),
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(["attribute_exists(PK)", *conditions]),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**attrs, **pinned},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    try:
        if moves:
            with_counts(account, {"Update": change}, moves)
        else:
            request(lambda db, _table: db.update_item(**change))
    except ConditionFailed as failed:
        if failed.old is None:
            return False
        raise
    return True


def delete(kind: Kind, account: str, number: int, *, refers_to: Sequence[Kind] = ()) -> bool:
    """Delete it unless something refers to it (InUse); False if there is none. What it refers
    to (kinds `refers_to`) counts it no more, in the same transaction: one DeleteItem, or a
    second request for one that refers to something."""
    held: dict[Kind, int] = {}  # what it is counted on, as last seen
    for _ in range(2 + len(refers_to)):
        unused = f"(attribute_not_exists({kind.tally}) OR {kind.tally} = :zero)"
        moves = {other: (held.get(other, 0), 0) for other in refers_to}
        _, _, pins, attrs = repointed(moves)
        action: DeleteTypeDef = {
            "TableName": settings.current().table_name,
            "Key": kind.key(account, number),
            "ConditionExpression": " AND ".join(["attribute_exists(PK)", unused, *pins]),
            "ExpressionAttributeValues": {**values(zero=0), **attrs},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            if any(held.values()):
                with_counts(account, {"Delete": action}, moves)
            else:
                _delete_item(action)
            return True
        except ConditionFailed as failed:
            old = failed.old
        if old is None:
            return False
        if int(old.get(kind.tally) or 0):
            raise InUse()
        held = {other: int(old.get(other.ref) or 0) for other in refers_to}
    raise storage_busy()  # moved to another template on every attempt


def _delete_item(action: "DeleteTypeDef") -> None:
    request(lambda db, _table: db.delete_item(**action))


def page(kind: Kind, account: str, *, limit: int, after: int | None) -> tuple[list[Item], bool]:
    """Up to `limit` of them in number order after `after` (None: from the first), and whether
    there are more. One Query."""

    def query(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": values(
                pk=numbered_pk(account, kind.partition), prefix=kind.prefix
            ),
            "Limit": limit + 1,  # one more than asked tells whether there is more
        }
        if after is not None:
            params["ExclusiveStartKey"] = kind.key(account, after)
        return db.query(**params)

    items = [_without_keys(from_item(item)) for item in request(query).get("Items", [])]
    found = [item for item in items if item is not None]
    return found[:limit], len(found) > limit


def _without_keys(item: Item | None) -> Item | None:
    if item is None:
        return None
    return {name: value for name, value in item.items() if name not in ("PK", "SK")}


# --- counting references ---------------------------------------------------------------------


def counted(account: str, kind: Kind, number: int, delta: int) -> "UpdateTypeDef":
    """Its count of references moved by `delta`, it still there."""
    return {
        "TableName": settings.current().table_name,
        "Key": kind.key(account, number),
        "UpdateExpression": f"SET {kind.tally} = if_not_exists({kind.tally}, :zero) + :delta",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": values(zero=0, delta=delta),
    }


def count_references(account: str, kind: Kind, number: int, delta: int) -> None:
    """`counted` on its own: Missing when it is not there. Sent as a transaction of one, whose
    token (ClientRequestToken) makes the SDK's resend of an answer lost in transit harmless: a
    count moved twice would keep a group from ever being deleted, or let one be deleted early."""
    try:
        transact([{"Update": counted(account, kind, number, delta)}])
    except Cancelled as cancelled:
        if cancelled.failed(0):
            raise Missing(kind) from None
        raise


def repointed(moves: Moves) -> tuple[list[str], list[str], list[str], AttributeMap]:
    """What a referrer's own write adds for its `moves`: (SET parts, REMOVE parts, conditions,
    values). Each reference is pinned to the number it is counted on, so two writes that move
    it cannot both count."""
    sets: list[str] = []
    removals: list[str] = []
    conditions: list[str] = []
    attrs: AttributeMap = {}
    for kind, (counted_on, refers_to) in moves.items():
        if counted_on:
            conditions.append(f"{kind.ref} = :{kind.ref}Was")
            attrs |= values(**{f"{kind.ref}Was": counted_on})
        else:
            conditions.append(f"attribute_not_exists({kind.ref})")
        if refers_to:
            sets.append(f"{kind.ref} = :{kind.ref}Now")
            attrs |= values(**{f"{kind.ref}Now": refers_to})
        else:
            removals.append(kind.ref)
    return sets, removals, conditions, attrs


def with_counts(
    account: str,
    write: "TransactWriteItemTypeDef",
    moves: Moves,
    also: "Sequence[TransactWriteItemTypeDef]" = (),
) -> None:
    """The referrer's own `write` (then `also`) and the counts its `moves` move, in one
    transaction: ConditionFailed (with the old item) when `write` is refused, Missing when
    something it is to refer to is not there."""
    actions: list[TransactWriteItemTypeDef] = [write, *also]
    increments: list[tuple[int, Kind]] = []
    decrements: list[tuple[int, Kind]] = []
    for kind, (counted_on, refers_to) in moves.items():
        if counted_on:
            decrements.append((len(actions), kind))
            actions.append({"Update": counted(account, kind, counted_on, -1)})
        if refers_to:
            increments.append((len(actions), kind))
            actions.append({"Update": counted(account, kind, refers_to, 1)})
    try:
        transact(actions)
    except Cancelled as cancelled:
        if cancelled.failed(0):
            raise ConditionFailed(cancelled.old(0)) from None
        for position, kind in increments:
            if cancelled.failed(position):
                raise Missing(kind) from None
        gone = {kind for position, kind in decrements if cancelled.failed(position)}
        if not gone:
            raise
        # What it is counted on is not there: nothing can delete what is counted on, so only
        # a count lost outside these writes leads here. Say so, and let the referrer go on
        # (its own write is still pinned to what it was counted on).
        count("DanglingReference", len(gone))
        left = {kind: (0 if kind in gone else was, now) for kind, (was, now) in moves.items()}
        with_counts(account, write, left, also)
