"""(De)serialization of the items we store: str, int, float, bool, lists of them, and maps (a
coupon's own redemption records)."""

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

type Item = dict[str, Any]
type AttributeMap = dict[str, "AttributeValueTypeDef"]


def to_attr(value: object) -> "AttributeValueTypeDef":  # noqa: PLR0911 - one per type
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": format(Decimal(repr(value)), "f")}
    if isinstance(value, Decimal):
        return {"N": format(value, "f")}
    if isinstance(value, list):
        return {"L": [to_attr(element) for element in value]}
    if isinstance(value, dict):
        return {"M": {str(name): to_attr(element) for name, element in value.items()}}
    raise TypeError(f"unsupported attribute type {type(value).__name__}")


def from_attr(attr: "Mapping[str, Any]") -> object:
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        number = str(attr["N"])
        return float(number) if any(c in number for c in ".eE") else int(number)
    if "BOOL" in attr:
        return attr["BOOL"]
    if "NULL" in attr:
        return None
    if "L" in attr:
        return [from_attr(element) for element in attr["L"]]
    if "M" in attr:
        return {name: from_attr(element) for name, element in attr["M"].items()}
    raise TypeError(f"unsupported attribute {sorted(attr)}")


def to_item(values: Mapping[str, object]) -> AttributeMap:
    return {name: to_attr(value) for name, value in values.items()}


def from_item(item: "Mapping[str, Any] | None") -> Item | None:
    if not item:
        return None
    return {name: from_attr(attr) for name, attr in item.items()}


def values(**named: object) -> AttributeMap:
    """ExpressionAttributeValues: each keyword becomes `:name`."""
    return {f":{name}": to_attr(value) for name, value in named.items()}


def key(pk: str, sk: str) -> AttributeMap:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def assignments(changes: Mapping[str, object]) -> tuple[list[str], dict[str, str], AttributeMap]:
    """`#fN = :fN` for each change, with its ExpressionAttributeNames and -Values."""
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    attrs = {f":f{i}": to_attr(value) for i, value in enumerate(changes.values())}
    return [f"#f{i} = :f{i}" for i in range(len(changes))], names, attrs
