"""What the API shows of stored records: the coupon object and a redemption's history item."""

from coupons.clock import local_time
from coupons.records import CouponObject, RedemptionRecord, RedemptionView, StoredCoupon


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
    }
