"""What the API shows of stored records: the coupon object and a redemption's history item."""

from typing import TYPE_CHECKING

from coupons.clock import local_time
from coupons.records import (
    CouponObject,
    GroupSettings,
    Priced,
    RedemptionRecord,
    RedemptionView,
    StoredCoupon,
)

if TYPE_CHECKING:
    from coupons.pricing import Quote


def coupon_object(coupon: StoredCoupon, language: str) -> CouponObject:
    """The coupon as the validation page shows it, plus our extra fields. Babel (for the
    formatted discount) loads with the first coupon shown."""
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
        "onsitePwd": "",  # never shown: it would hand the password to every key holder
        "memo": coupon["memo"],
        "url": coupon["url"],
        "userId": coupon["userId"],
        "userNm": coupon["userNm"],
        "userPhnno": coupon["userPhnno"],
        "userEml": coupon["userEml"],
        "userEtc1": coupon["userEtc1"],
        "userEtc2": coupon["userEtc2"],
        "useCnt": coupon["useCnt"],
        "regYmdt": local_time(int(coupon["regTs"])),
        "grpIdx": coupon["grpIdx"],
        "tmplIdx": coupon["tmplIdx"],
        "color": coupon["color"],
        "background": coupon["background"],
        "webhookEnableYn": coupon["webhookEnableYn"],
        "onsitePwdSet": bool(coupon["onsitePwd"]),
        "status": coupon.get("status", "ACTIVE"),
        "minOrderAmt": float(coupon.get("minOrderAmt", 0)),
        "maxDiscAmt": float(coupon.get("maxDiscAmt", 0)),
        "perUserLimit": coupon.get("perUserLimit", 0),
        "totalLimit": coupon.get("totalLimit", 0),
    }


GROUP_SETTINGS = tuple(GroupSettings.__annotations__)


def shown(
    account: str, coupon: StoredCoupon, group: "GroupSettings | None", language: str
) -> CouponObject:
    """The coupon object as validate and list show it: each setting its group has ("" or 0:
    none) over the coupon's own (DESIGN 2.7, "group settings take priority"; None: no group),
    and the address of its public page on its domain (DESIGN 2.8)."""
    from coupons.page.tokens import page_url

    seen = coupon_object(coupon, language)
    if group is not None:
        for name in GROUP_SETTINGS:
            if group[name]:  # type: ignore[literal-required]
                seen[name] = group[name]  # type: ignore[literal-required]
    seen["pageUrl"] = page_url(seen["domain"], account, coupon)
    return seen


def priced(quote: "Quote", language: str) -> Priced:
    """The discount on an order and what remains to pay, as numbers and formatted."""
    from coupons.formatting import format_amount
    from coupons.pricing import as_json_number

    return {
        "discAmt": as_json_number(quote.discAmt),
        "payAmt": as_json_number(quote.payAmt),
        "formatDiscAmt": format_amount(quote.discAmt, quote.currency, language),
        "formatPayAmt": format_amount(quote.payAmt, quote.currency, language),
    }


def redemption_view(record: RedemptionRecord) -> RedemptionView:
    cancelled = record.get("cancelTs")
    return {
        "rdmId": record["rdmId"],
        "userId": record["userId"],
        "memo": record["memo"],
        "status": record["status"],
        "regYmdt": local_time(int(record["regTs"])),
        "cancelYmdt": local_time(int(cancelled)) if cancelled is not None else "",
        "cancelMemo": record.get("cancelMemo", ""),
        "amount": _number(record.get("amount")),
        "currency": record.get("currency", ""),
        "discAmt": _number(record.get("discAmt")),
    }


def _number(value: object) -> int | float | None:
    """A stored amount (a float, or a Decimal just computed) as a JSON number: 12 for 12.0."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]  # a number
    return int(number) if number == int(number) else number
