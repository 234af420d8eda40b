"""What a coupon page shows (DESIGN 2.8), decided from the stored coupon, its group and its
template; html.py writes it. Only public fields come in here: never memo, the on-site password,
the user fields or keys."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from coupons import rules
from coupons.errors import ErrorCode
from coupons.records import GroupSettings, StoredCoupon, TemplateFields

# A refusal of validate (without a user) -> the page's state.
_STATES = {
    None: "usable",
    ErrorCode.COUPON_DISABLED: "disabled",
    ErrorCode.NOT_YET_VALID: "not_yet",
    ErrorCode.EXPIRED: "expired",
    ErrorCode.USAGE_LIMIT_REACHED: "used_up",
}
TEMPLATE_SECTIONS = ("description", "usage", "precautions")
# WCAG 2.2 AA for normal text (1.4.3).
MIN_CONTRAST = 4.5
PAGE_BACKGROUND = "#F2F2F4"  # behind the card (html.py): what a translucent background shows


@dataclass(frozen=True)
class Notice:
    """A line at the top of the page after an on-site use: done, or why not."""

    ok: bool
    text: str


@dataclass(frozen=True)
class CouponPage:
    language: str
    token: str
    cpn_no: str
    nm: str
    discount: str
    start: str
    end: str
    state: str  # usable, not_yet, expired, used_up, disabled
    used_at: str | None  # the last use's time, when the coupon is used up and it is known
    uses_left: int | None  # None: single-use or unlimited (not shown)
    image: str
    url: str
    color: str
    background: str
    sections: list[tuple[str, str]] = field(default_factory=list)  # (text name, body)
    onsite: bool = False  # the staff's "Use Coupon" form
    nonce: str = ""  # the form's: a second press of the same form counts nothing more
    notice: Notice | None = None
    status: int = 200  # of the answer: a refused on-site use answers its code's


def state_of(coupon: StoredCoupon, today: date) -> str:
    """The coupon's state for whoever holds it: the rules validate applies, as its own user."""
    refused = rules.refusal(coupon, today, user_id=coupon["userId"], redeeming=False)
    return _STATES.get(refused, "usable")


def used_at(coupon: Mapping[str, Any]) -> int | None:
    """The time (ms) of the coupon's latest standing use, when its records are still on it."""
    times = [
        int(record["regTs"])
        for record in (coupon.get("rdm") or {}).values()
        if record.get("status", "REDEEMED") == "REDEEMED"
    ]
    return max(times, default=None)


def onsite_form(coupon: StoredCoupon, state: str) -> bool:
    """Whether the staff's form is offered: an on-site coupon (below), usable now."""
    return state == "usable" and onsite_coupon(coupon)


def onsite_coupon(coupon: StoredCoupon) -> bool:
    """Whether the page may use the coupon at all: an on-site coupon with an on-site password,
    whose use needs nothing the page cannot know (a customer's id, an order's amount)."""
    return (
        coupon["onsiteYn"] == "Y"
        and bool(coupon["onsitePwd"])
        and not coupon.get("perUserLimit")
        and not coupon.get("minOrderAmt")
    )


def uses_left(coupon: StoredCoupon) -> int | None:
    cap = rules.use_cap(coupon)
    if cap <= 1:
        return None
    return max(0, cap - int(coupon["useCnt"]))


def settings(coupon: StoredCoupon, group: GroupSettings | None) -> dict[str, Any]:
    """imgUrl, url, color and background as shown: the group's over the coupon's (2.7)."""
    shown: dict[str, Any] = {
        "imgUrl": "",
        "url": coupon["url"],
        "color": coupon["color"],
        "background": coupon["background"],
    }
    for name in shown:
        if group is not None and group[name]:  # type: ignore[literal-required]
            shown[name] = group[name]  # type: ignore[literal-required]
    return shown


def sections(template: TemplateFields | None) -> list[tuple[str, str]]:
    if template is None:
        return []
    return [(name, template[name]) for name in TEMPLATE_SECTIONS if template[name]]  # type: ignore[literal-required]


# --- colours the merchant picks, kept readable ------------------------------------------------


type RGB = tuple[float, float, float]


def rgb(color: str, under: RGB = (1.0, 1.0, 1.0)) -> RGB:
    """#RGB, #RRGGBB or #RRGGBBAA as 0-1 channels, a translucent colour laid over `under`."""
    digits = color.lstrip("#")
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in range(0, len(digits), 2)]
    alpha = channels[3] if len(channels) > 3 else 1.0  # noqa: PLR2004
    red, green, blue = (
        alpha * c + (1 - alpha) * u for c, u in zip(channels[:3], under, strict=True)
    )
    return red, green, blue


def luminance(channels: RGB) -> float:
    """WCAG relative luminance."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]  # noqa: PLR2004
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: RGB, second: RGB) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(color: str, background: str) -> str:
    """The text colour to use on `background`: the merchant's when it contrasts enough (4.5:1),
    else black or white, whichever contrasts more; the background is kept (it is the brand)."""
    ground = rgb(background, rgb(PAGE_BACKGROUND))
    if contrast(rgb(color, ground), ground) >= MIN_CONTRAST:
        return color
    black: RGB = (0.0, 0.0, 0.0)
    white: RGB = (1.0, 1.0, 1.0)
    return "#000000" if contrast(black, ground) >= contrast(white, ground) else "#FFFFFF"
