"""The shapes that cross the layer's boundaries, as TypedDicts (plain dicts at run time, so
free at cold start): what the store keeps, what the domain answers, what a handler returns."""

from typing import Literal, NotRequired, TypedDict


class CouponTermsRecord(TypedDict):
    """Every editable field of a coupon (models.CouponTerms validates them)."""

    nm: str
    discTypeIdx: int
    disc: float
    discCurrency: str
    strtYmd: str
    endYmd: str
    useLimit: int
    onsiteYn: str
    onsitePwd: str  # stored: rules.password_digest (or, from before digests, in clear)
    webhookEnableYn: str
    grpIdx: int
    tmplIdx: int
    domain: str
    url: str
    color: str
    background: str
    memo: str
    userId: str
    userNm: str
    userPhnno: str
    userEml: str
    userEtc1: str
    userEtc2: str
    # Checkout rules (DESIGN 2.6); a coupon stored before them has none (0).
    minOrderAmt: NotRequired[float]
    maxDiscAmt: NotRequired[float]
    perUserLimit: NotRequired[int]
    totalLimit: NotRequired[int]


# A coupon's status (DESIGN 2.6): a disabled one refuses validate and redeem (4231).
CouponStatus = Literal["ACTIVE", "DISABLED"]


class StoredCoupon(CouponTermsRecord):
    """A coupon as the store keeps it (without its keys)."""

    cpnNo: str
    useCnt: int
    ver: int  # bumped by every edit: the compare-and-set of update
    cid: str  # this instance of the code (a re-created code gets a new one); time-ordered
    regTs: int  # ms; a redemption record older than this belongs to a deleted coupon
    pwdFailTs: NotRequired[list[int]]  # times (ms) of recent wrong on-site passwords
    pwdLockedUntil: NotRequired[int]  # ms; redemption with a password is locked until then
    rdm: NotRequired[dict[str, "RedemptionFields"]]  # its recent redemption records, by rdmId
    status: NotRequired[CouponStatus]  # absent: ACTIVE (disable/enable set it)
    priced: NotRequired[int]  # 1 once a redemption priced an order (pricing.PRICING_TERMS)
    # The group and template it is counted on (store/numbered.py).
    grpRef: NotRequired[int]
    tmplRef: NotRequired[int]
    pageKey: NotRequired[str]  # of its public page's token (page/tokens.py)


RedemptionStatus = Literal["REDEEMED", "CANCELLED"]


class RedemptionFields(TypedDict):
    """A redemption record as the coupon item keeps it, under its rdmId (store/redemptions.py)."""

    userId: str
    memo: str
    status: RedemptionStatus
    regTs: int
    cancelTs: NotRequired[int]
    cancelMemo: NotRequired[str]
    # The order it was redeemed for (DESIGN 2.6): amount and currency as sent (the currency
    # resolved), the discount once known (see store/redemptions.py).
    amount: NotRequired[float]
    currency: NotRequired[str]
    discAmt: NotRequired[float]


class RedemptionRecord(RedemptionFields):
    rdmId: str  # 12 hex digits of its time in ms, then 12 random


class IdempotencyRecord(TypedDict):
    """What an Idempotency-Key remembers (idempotency.py)."""

    status: Literal["INPROGRESS", "COMPLETED"] | str
    expiresAt: int  # s since the epoch (the table's TTL attribute)
    validation: str  # the SHA-256 of the request body
    data: NotRequired[str]  # the first answer's result, as JSON
    privateHash: NotRequired[str]  # the fields kept out of `validation` (a password), salted
    inProgressExpiresAt: NotRequired[int]  # ms; a claim older than this is free again


class PasswordGuard(TypedDict, total=False):
    """A wrong-password counter shared by coupons (store/guards.py): the same attributes as a
    coupon's own."""

    pwdFailTs: list[int]
    pwdLockedUntil: int


class TemplateFields(TypedDict):
    """A coupon template's text (DESIGN 2.7): plain text, newlines kept."""

    nm: str
    description: str
    usage: str
    precautions: str


class StoredTemplate(TemplateFields):
    tmplIdx: int
    regTs: int  # ms
    refCnt: NotRequired[int]  # the coupons and groups that refer to it (store/numbered.py)


class TemplateObject(TemplateFields):
    """A template as GET /template and /template/list show it."""

    tmplIdx: int
    regYmdt: str


class GroupSettings(TypedDict):
    """What a group sets over its coupons' own values wherever they are shown (DESIGN 2.7);
    "" or 0: not set."""

    imgUrl: str
    color: str
    background: str
    url: str
    tmplIdx: int
    domain: str


class GroupFieldsRecord(GroupSettings):
    nm: str
    memo: str


class StoredGroup(GroupFieldsRecord):
    grpIdx: int
    regTs: int  # ms
    couponCnt: NotRequired[int]  # the coupons that refer to it
    tmplRef: NotRequired[int]  # the template it is counted on (store/numbered.py)


class GroupObject(GroupFieldsRecord):
    """A group as GET /group and /group/list show it."""

    grpIdx: int
    couponCnt: int
    regYmdt: str


class WebhookObject(TypedDict):
    """GET /webhook (never the secret)."""

    url: str
    enabled: bool
    createdYmdt: str
    updatedYmdt: str


class WebhookSet(TypedDict):
    """PUT /webhook: the secret only when the webhook is created (POST /webhook/rotate-secret
    makes a new one)."""

    url: str
    enabled: bool
    secret: str | None


class DeliveryView(TypedDict):
    """One item of GET /webhook/deliveries."""

    id: str
    type: str
    cpnNo: str
    status: str  # PENDING, RETRYING, DELIVERED, FAILED
    attempts: int
    lastStatus: int | None  # the receiver's last HTTP status; None: no answer
    lastError: str
    createdYmdt: str
    lastAttemptYmdt: str


class AccountRecord(TypedDict):
    account: str
    name: str
    created: str
    cursorKey: str  # hex; signs the account's pagination cursors (never shown)


class ApiKeyRecord(TypedDict):
    keyHash: str  # SHA-256 of the key; the key itself is never stored
    account: str
    keyId: str
    created: str
    revoked: bool


class Priced(TypedDict):
    """What an order pays with the coupon (DESIGN 2.6), in the order's currency."""

    discAmt: int | float
    payAmt: int | float
    formatDiscAmt: str
    formatPayAmt: str


class UseResult(TypedDict):
    """The answer to redeem and to cancel; redeem with an amount adds the Priced fields."""

    rdmId: str
    useCnt: int
    remaining: int | None  # None: unlimited
    discAmt: NotRequired[int | float]
    payAmt: NotRequired[int | float]
    formatDiscAmt: NotRequired[str]
    formatPayAmt: NotRequired[str]


class CouponObject(CouponTermsRecord):
    """The coupon as the validation page shows it (views.py), plus our extra fields."""

    cpnNo: str
    onsitePwdSet: bool  # onsitePwd itself is always ""
    status: CouponStatus
    formatDiscCurrency: str
    imgUrl: str
    useCnt: int
    regYmdt: str
    pageUrl: NotRequired[str]  # validate and list: the coupon's public page (DESIGN 2.8)
    # validate with an amount (Priced), and with a userId on a code counted per user
    discAmt: NotRequired[int | float]
    payAmt: NotRequired[int | float]
    formatDiscAmt: NotRequired[str]
    formatPayAmt: NotRequired[str]
    userUseCnt: NotRequired[int]
    userRemaining: NotRequired[int]
    template: NotRequired["TemplateFields | None"]  # validate: the coupon's template's text


class RedemptionView(TypedDict):
    """One item of GET /redemptions."""

    rdmId: str
    userId: str
    memo: str
    status: RedemptionStatus
    regYmdt: str
    cancelYmdt: str
    cancelMemo: str
    amount: int | float | None  # None: redeemed without an order amount
    currency: str
    discAmt: int | float | None


class Page[T](TypedDict):
    """A page of a listing: `cursor` continues after its last item, None at the end."""

    items: list[T]
    cursor: str | None
