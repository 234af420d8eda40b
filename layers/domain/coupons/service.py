"""The domain operations, one per route. Each takes the caller's account and the parsed request
and returns the envelope's `result`, or raises CouponError."""

import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coupons import config, rules, store
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.models import (
    TERM_FIELDS,
    CouponTerms,
    CreateRequest,
    RedeemRequest,
    UpdateRequest,
    parse,
)
from coupons.observability import count

_GENERATE_ATTEMPTS = 5
_EDIT_ATTEMPTS = 3
# Redemption attempts that pin the count before the last one, which lets it float (see redeem).
# A limited coupon's count moves at most 5 times; an unlimited one's may move on every request.
_PINNED_REDEEM_ATTEMPTS = 5
_PINNED_UNLIMITED_ATTEMPTS = 1
# What this container last saw of a coupon: (useCnt, useLimit). A redemption pins its belief
# about both in the condition so that, on success, the new count and what remains are known
# without reading the coupon. A wrong belief costs one more request and is corrected from the
# coupon the failed condition returns. A coupon nobody here has seen is most likely unused
# and single-use.
_seen: dict[tuple[str, str], tuple[int, int]] = {}
_SEEN_LIMIT = 10_000
_FIRST_GUESS = (0, 1)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id() -> str:
    """Time-ordered, unguessable id: 12 hex digits of milliseconds, 12 random."""
    return f"{_now_ms():012x}{secrets.token_hex(6)}"


def create_coupon(account: str, body: Mapping[str, Any]) -> str:
    request = parse(CreateRequest, body, today=rules.today())
    terms = _with_defaults(request.model_dump(include=set(TERM_FIELDS)))
    coupon = {**terms, "useCnt": 0, "ver": 0, "cid": _new_id(), "regTs": _now_ms()}
    if request.cpnNo:
        coupon["cpnNo"] = rules.normalize_code(request.cpnNo)
        if not store.put_new_coupon(account, coupon):
            raise CouponError(ErrorCode.CODE_EXISTS)
    else:
        for _ in range(_GENERATE_ATTEMPTS):
            coupon["cpnNo"] = rules.generate_code(request.cpnNoDigits)
            if store.put_new_coupon(account, coupon):
                break
        else:  # 32^8 codes: five collisions in a row means something else is wrong
            raise RuntimeError("could not find a free coupon code")
    count("CouponsCreated")
    return str(coupon["cpnNo"])


def update_coupon(account: str, body: Mapping[str, Any]) -> str:
    """Fields present change, fields absent stay; once used, only memo may change."""
    cpn_no = rules.normalize_code(parse(UpdateRequest, body).cpnNo)
    edits = {name: body[name] for name in TERM_FIELDS if name in body}
    for _ in range(_EDIT_ATTEMPTS):
        stored = store.get_coupon(account, cpn_no, consistent=True)
        if stored is None:
            raise CouponError(ErrorCode.COUPON_NOT_FOUND)
        current = {name: stored[name] for name in TERM_FIELDS}
        merged = _with_defaults(
            parse(CouponTerms, {**current, **edits}, today=rules.today()).model_dump()
        )
        changes = {name: value for name, value in merged.items() if value != current[name]}
        if not changes:
            return cpn_no
        locked = set(changes) - {"memo"}
        if locked and stored["useCnt"] > 0:
            raise CouponError(ErrorCode.COUPON_LOCKED)
        try:
            store.update_coupon(
                account,
                cpn_no,
                changes,
                instance=stored["cid"],
                version=stored["ver"],
                unused_only=bool(locked),
            )
            return cpn_no
        except store.ConditionFailed as failed:
            if failed.old is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            if locked and failed.old["useCnt"] > 0:
                raise CouponError(ErrorCode.COUPON_LOCKED) from None
            # Edited concurrently (or deleted and re-created): merge again over what is there.
    raise storage_busy()


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


def redeem_coupon(account: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Check every rule and count one use in one conditional transaction (see _seen)."""
    request = parse(RedeemRequest, body)
    code = rules.normalize_code(request.cpnNo)
    today = rules.today()
    use_count, use_limit = _seen.get((account, code), _FIRST_GUESS)
    for attempt in range(_PINNED_REDEEM_ATTEMPTS + 1):
        # Once the pinned attempts are spent the count floats, so a hot coupon cannot starve a
        # request; the reported useCnt is then the lowest it can be.
        pinned = attempt < (
            _PINNED_REDEEM_ATTEMPTS if use_limit != rules.UNLIMITED else _PINNED_UNLIMITED_ATTEMPTS
        )
        rdm_id = _new_id()
        try:
            store.redeem(
                account,
                code,
                today=today.isoformat(),
                user_id=request.userId,
                onsite_pwd=request.onsitePwd,
                use_count=use_count if pinned else None,
                use_limit=use_limit,
                record={
                    "rdmId": rdm_id,
                    "userId": request.userId,
                    "memo": request.memo,
                    "status": "REDEEMED",
                    "regTs": _now_ms(),
                },
            )
        except store.ConditionFailed as failed:
            coupon = failed.old
            refused = (
                ErrorCode.COUPON_NOT_FOUND
                if coupon is None
                else rules.refusal(
                    coupon,
                    today,
                    user_id=request.userId,
                    onsite_pwd=request.onsitePwd,
                    redeeming=True,
                )
            )
            if refused is not None:
                count("RedemptionsRejected", reason=refused.name)
                raise CouponError(refused) from None
            assert coupon is not None
            actual = int(coupon["useCnt"]), int(coupon["useLimit"])
            if actual[1] == use_limit and (actual[0] == use_count or not pinned):
                raise RuntimeError("redeem condition refused a coupon the rules accept") from None
            use_count, use_limit = actual
            continue
        use_count += 1
        _remember(account, code, use_count, use_limit)
        count("Redemptions")
        return {
            "rdmId": rdm_id,
            "useCnt": use_count,
            "remaining": rules.remaining_uses({"useCnt": use_count, "useLimit": use_limit}),
        }
    raise storage_busy()


def delete_coupon(account: str, cpn_no: object) -> None:
    if not store.delete_coupon(account, rules.normalize_code(cpn_no)):
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)


def coupon_object(coupon: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The coupon as the validation page shows it, plus our extra fields."""
    from coupons.formatting import format_discount

    registered = datetime.fromtimestamp(coupon["regTs"] / 1000, config.time_zone())
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
        "regYmdt": registered.strftime("%Y-%m-%d %H:%M:%S"),
        "grpIdx": coupon["grpIdx"],
        "tmplIdx": coupon["tmplIdx"],
        "color": coupon["color"],
        "background": coupon["background"],
        "webhookEnableYn": coupon["webhookEnableYn"],
    }


def _with_defaults(terms: dict[str, Any]) -> dict[str, Any]:
    """Defaults that come from the deployment rather than the model."""
    terms["domain"] = terms["domain"] or config.public_base_url()
    return terms


def _remember(account: str, code: str, use_count: int, use_limit: int) -> None:
    if len(_seen) >= _SEEN_LIMIT:
        _seen.clear()
    _seen[(account, code)] = (use_count, use_limit)


def _optional_text(value: object, field: str, max_length: int) -> str:
    from coupons.errors import invalid_field

    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid_field(field, f"must be a string of at most {max_length} characters")
    return value.strip()
