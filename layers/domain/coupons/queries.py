"""The domain operations whose request is a query string (validate, list, redemptions,
delete): each takes the caller's account and the parameters and returns the envelope's
`result`, or raises CouponError. No request body, so no pydantic: their functions' cold start
stays free of it (the body operations live in service.py)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coupons import config, cursors, rules, store
from coupons.errors import CouponError, ErrorCode, invalid_field

DEFAULT_PAGE, MAX_PAGE = 20, 100


def validate_coupon(account: str, cpn_no: object, user_id: object, language: str) -> dict[str, Any]:
    code = rules.normalize_code(cpn_no)
    user = _optional_text(user_id, "userId", 100)
    coupon = store.get_coupon(account, code)
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    refused = rules.refusal(coupon, rules.today(), user_id=user, redeeming=False)
    if refused is not None:
        raise CouponError(refused)
    return coupon_object(coupon, language)


def list_redemptions(account: str, cpn_no: object, limit: object, cursor: object) -> dict[str, Any]:
    """The current coupon's redemption records, newest first, a page at a time."""
    code = rules.normalize_code(cpn_no)
    coupon = store.get_coupon(account, code)
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    size = _page_size(limit)
    scope = f"redemptions|{account}|{code}|{coupon['cid']}"
    after = None
    if cursor is not None:
        (after,) = cursors.decode(_cursor_secret(account), scope, cursor, 1)
    records, last = store.list_redemptions(
        account, code, since_ts=int(coupon["regTs"]), limit=size, after=after
    )
    return {
        "items": [
            {
                "rdmId": record["rdmId"],
                "userId": record["userId"],
                "memo": record["memo"],
                "status": record["status"],
                "regYmdt": _local_time(int(record["regTs"])),
                "cancelYmdt": _local_time(int(record["cancelTs"])) if "cancelTs" in record else "",
                "cancelMemo": record.get("cancelMemo", ""),
            }
            for record in records
        ],
        "cursor": cursors.encode(_cursor_secret(account), scope, [last]) if last else None,
    }


def list_coupons(account: str, params: Mapping[str, str], language: str) -> dict[str, Any]:
    """The account's coupons (optionally one group's, one user's, or both), newest first;
    `params` are the query's limit, cursor, grpIdx and userId."""
    size = _page_size(params.get("limit"))
    group, cursor = params.get("grpIdx"), params.get("cursor")
    grp = None if group is None else _whole_number(group, "grpIdx", 0, rules.MAX_INDEX)
    user = _optional_text(params.get("userId"), "userId", 100) or None
    filter_group = None
    if user is not None:  # a user has few coupons: their index, filtered by group if asked
        index, partition_key = store.BY_USER, store.index_partition(account, store.BY_USER, user)
        filter_group = grp
    elif grp is not None:
        index, partition_key = store.BY_GROUP, store.index_partition(account, store.BY_GROUP, grp)
    else:
        index, partition_key = store.BY_ACCOUNT, store.index_partition(account, store.BY_ACCOUNT)
    scope = f"list|{account}|{partition_key}|{filter_group}"
    after = None
    if cursor is not None:
        code, cid = cursors.decode(_cursor_secret(account), scope, cursor, 2)
        after = (code, cid)
    coupons, last = store.list_coupons(
        account,
        index=index,
        partition=partition_key,
        group=filter_group,
        limit=size,
        after=after,
    )
    return {
        "items": [coupon_object(coupon, language) for coupon in coupons],
        "cursor": cursors.encode(_cursor_secret(account), scope, list(last)) if last else None,
    }


_cursor_secrets: dict[str, bytes] = {}


def _cursor_secret(account: str) -> bytes:
    """The account's cursor key (never changes, so each container reads it once)."""
    secret = _cursor_secrets.get(account)
    if secret is None:
        record = store.get_account(account, consistent=False)
        if record is None or not record.get("cursorKey"):
            raise RuntimeError(f"account {account} has no cursor key (coupon-admin sets it)")
        secret = _cursor_secrets[account] = bytes.fromhex(str(record["cursorKey"]))
    return secret


def _page_size(raw: object) -> int:
    return DEFAULT_PAGE if raw is None else _whole_number(raw, "limit", 1, MAX_PAGE)


def _whole_number(raw: object, field: str, low: int, high: int) -> int:
    text = raw if isinstance(raw, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and low <= int(text) <= high):
        raise invalid_field(field, f"must be a whole number from {low} to {high}")
    return int(text)


def delete_coupon(account: str, cpn_no: object) -> None:
    if not store.delete_coupon(account, rules.normalize_code(cpn_no)):
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)


def coupon_object(coupon: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The coupon as the validation page shows it, plus our extra fields."""
    from coupons.formatting import format_discount

    return {
        "cpnNo": coupon["cpnNo"],
        "domain": coupon["domain"],
        "nm": coupon["nm"],
        "discTypeIdx": coupon["discTypeIdx"],
        "discCurrency": coupon["discCurrency"],
        "formatDiscCurrency": format_discount(
            coupon["discTypeIdx"], float(coupon["disc"]), coupon["discCurrency"], language
        ),
        "disc": float(coupon["disc"]),
        "strtYmd": coupon["strtYmd"],
        "endYmd": coupon["endYmd"],
        "useLimit": coupon["useLimit"],
        "imgUrl": "",
        "onsiteYn": coupon["onsiteYn"],
        "onsitePwd": coupon["onsitePwd"],
        "memo": coupon["memo"],
        "url": coupon["url"],
        "userId": coupon["userId"],
        "userNm": coupon["userNm"],
        "userPhnno": coupon["userPhnno"],
        "userEml": coupon["userEml"],
        "userEtc1": coupon["userEtc1"],
        "userEtc2": coupon["userEtc2"],
        "useCnt": coupon["useCnt"],
        "regYmdt": _local_time(int(coupon["regTs"])),
        "grpIdx": coupon["grpIdx"],
        "tmplIdx": coupon["tmplIdx"],
        "color": coupon["color"],
        "background": coupon["background"],
        "webhookEnableYn": coupon["webhookEnableYn"],
    }


def _local_time(ms: int) -> str:
    """YYYY-MM-DD HH:MM:SS in the deployment's time zone."""
    return datetime.fromtimestamp(ms / 1000, config.time_zone()).strftime("%Y-%m-%d %H:%M:%S")


def _optional_text(value: object, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid_field(field, f"must be a string of at most {max_length} characters")
    return value.strip()
