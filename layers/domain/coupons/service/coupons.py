"""Coupons: create (one or a batch), update, disable/enable, delete and validate.

Nothing here imports the request models (models.py) at module level: validate and delete take
query strings, and their functions' cold start stays free of them (update loads them when it
merges)."""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from coupons import clock, rules, settings
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.idempotency import IdempotencyKey, Replayed, remembered
from coupons.observability import count
from coupons.page.tokens import new_key
from coupons.queries import CodeQuery, ValidateQuery
from coupons.records import (
    CouponObject,
    CouponTermsRecord,
    GroupSettings,
    StoredCoupon,
    StoredTemplate,
    TemplateFields,
)
from coupons.store import coupons as coupon_items
from coupons.store import numbered
from coupons.store.client import ConditionFailed
from coupons.store.coupons import REFERENTS
from coupons.store.numbered import GROUPS, TEMPLATES
from coupons.views import priced, shown

if TYPE_CHECKING:
    from coupons.models import BulkCreateRequest, CodeRequest, CreateRequest, UpdateRequest

_GENERATE_ATTEMPTS = 5
# Attempts of an edit of terms whose coupon another edit changed in between (an edit of the
# memo alone is not pinned to a version: it cannot conflict).
_EDIT_ATTEMPTS = 8


def _new_coupon(terms: CouponTermsRecord, cpn_no: str = "") -> StoredCoupon:
    now = clock.now_ms()
    coupon = {
        **terms,
        "cpnNo": cpn_no,
        "useCnt": 0,
        "ver": 0,
        "cid": rules.new_id(now),
        "regTs": now,
        "pageKey": new_key(),  # of its public page (page/tokens.py)
        # The group and template it names, counted on them (store/numbered.py).
        **{kind.ref: terms[kind.field] for kind in REFERENTS if terms[kind.field]},  # type: ignore[literal-required]
    }
    return cast(StoredCoupon, coupon)


def _terms(account: str, request: "CreateRequest | BulkCreateRequest") -> CouponTermsRecord:
    from coupons.models import TERM_FIELDS

    terms = cast(CouponTermsRecord, request.model_dump(include=set(TERM_FIELDS)))
    return _as_stored(account, terms)


def _as_stored(account: str, terms: CouponTermsRecord) -> CouponTermsRecord:
    """Validated terms as they are stored: the deployment's defaults filled in, the on-site
    password as its digest."""
    terms["domain"] = terms["domain"] or settings.current().public_base_url
    terms["onsitePwd"] = rules.password_digest(account, terms["onsitePwd"])
    return terms


def create_coupon(
    account: str, request: "CreateRequest", key: IdempotencyKey | None = None
) -> str | Replayed[str]:
    return remembered(key, lambda: _with_references(lambda: _create(account, request)))


def _create(account: str, request: "CreateRequest") -> str:
    coupon = _new_coupon(_terms(account, request))
    if request.cpnNo:
        coupon["cpnNo"] = rules.normalize_code(request.cpnNo)
        if not coupon_items.put_new(account, coupon):
            raise CouponError(ErrorCode.CODE_EXISTS)
    else:
        for _ in range(_GENERATE_ATTEMPTS):
            coupon["cpnNo"] = rules.generate_code(request.cpnNoDigits)
            if coupon_items.put_new(account, coupon):
                break
        else:  # 32^8 codes: five collisions in a row means something else is wrong
            raise RuntimeError("could not find a free coupon code")
    count("CouponsCreated")
    return coupon["cpnNo"]


def create_coupons(
    account: str, request: "BulkCreateRequest", key: IdempotencyKey | None = None
) -> list[str] | Replayed[list[str]]:
    return remembered(key, lambda: _with_references(lambda: _create_bulk(account, request)))


def _with_references[T](write: "Callable[[], T]") -> T:
    """`write`, with a group or template that is not there (or another account's) refused as
    4001 on grpIdx or tmplIdx: a coupon refers only to those of its own account (DESIGN
    2.7)."""
    from coupons.service.numbered import refused_reference

    try:
        return write()
    except numbered.Missing as missing:
        raise refused_reference(missing) from None


def _create_bulk(account: str, request: "BulkCreateRequest") -> list[str]:
    """`count` coupons in one all-or-nothing transaction; codes that turn out to be taken are
    drawn again and the whole batch retried."""
    terms = _terms(account, request)
    coupons = [_new_coupon(terms) for _ in range(request.count)]
    redraw: list[int] = list(range(request.count))
    for _ in range(_GENERATE_ATTEMPTS):
        codes = {coupon["cpnNo"] for coupon in coupons}
        for position in redraw:
            code = rules.generate_code(request.cpnNoDigits)
            while code in codes:  # two actions on one item would fail the transaction
                code = rules.generate_code(request.cpnNoDigits)
            codes.add(code)
            coupons[position]["cpnNo"] = code
        redraw = coupon_items.put_new_batch(account, coupons)
        if not redraw:
            count("CouponsCreated", len(coupons))
            return [coupon["cpnNo"] for coupon in coupons]
    raise RuntimeError("could not find free coupon codes")


def update_coupon(account: str, request: "UpdateRequest") -> str:
    """Fields present change, fields absent (or null) stay; once used, only memo may change."""
    from coupons.models import TERM_DEFAULTS, TERM_FIELDS, CouponTerms, parse
    from coupons.pricing import PRICING_TERMS

    cpn_no = rules.normalize_code(request.cpnNo)
    edits = request.edits
    for _ in range(_EDIT_ATTEMPTS):
        stored = coupon_items.get(account, cpn_no, consistent=True)
        if stored is None:
            raise CouponError(ErrorCode.COUPON_NOT_FOUND)
        stored_terms: Mapping[str, object] = stored
        # A coupon stored before a field existed has its default.
        current = {name: stored_terms.get(name, TERM_DEFAULTS.get(name)) for name in TERM_FIELDS}
        # The stored password is a digest: only an edited one is validated (and digested).
        unchanged_password = {"onsitePwd": ""} if "onsitePwd" not in edits else {}
        parsed = parse(CouponTerms, {**current, **unchanged_password, **edits}, today=clock.today())
        merged = _as_stored(account, cast(CouponTermsRecord, parsed.model_dump()))
        if "onsitePwd" not in edits:
            merged["onsitePwd"] = stored["onsitePwd"]
        changes = _changes(current, merged, stored_terms, edits)
        if not changes:
            return cpn_no
        locked = set(changes) - {"memo"}
        repriced = bool(PRICING_TERMS & set(changes))
        if _locked(stored, used=bool(locked), repriced=repriced):
            raise CouponError(ErrorCode.COUPON_LOCKED)
        try:
            coupon_items.update(
                account,
                cpn_no,
                changes,
                instance=stored["cid"],
                # The memo may change at any time, whatever else did: last writer wins.
                version=stored["ver"] if locked else None,
                unused_only=bool(locked),
                unpriced_only=repriced,
                # Another group or template: the count moves from the one it is counted on.
                moves={
                    kind: (
                        cast(int, stored_terms.get(kind.ref) or 0),
                        cast(int, changes[kind.field]),
                    )
                    for kind in REFERENTS
                    if kind.field in changes
                },
            )
            return cpn_no
        except numbered.Missing as missing:
            from coupons.service.numbered import refused_reference

            raise refused_reference(missing) from None
        except ConditionFailed as failed:
            old = coupon_items.as_coupon(failed.old)
            if old is None:
                raise CouponError(ErrorCode.COUPON_NOT_FOUND) from None
            if _locked(old, used=bool(locked), repriced=repriced):
                raise CouponError(ErrorCode.COUPON_LOCKED) from None
            # Edited concurrently (or deleted and re-created): merge again over what is there.
    raise storage_busy()


def _changes(
    current: Mapping[str, object],
    merged: Mapping[str, object],
    stored: Mapping[str, object],
    edits: Mapping[str, object],
) -> dict[str, object]:
    """The fields an update changes; a group or template number stored before references were
    counted and sent again counts as a change: the coupon is counted on it from now on."""
    changes = {name: value for name, value in merged.items() if value != current[name]}
    for kind in REFERENTS:
        if kind.field in edits and merged[kind.field] and not stored.get(kind.ref):
            changes[kind.field] = merged[kind.field]
    return changes


def shown_in_group(account: str, coupon: StoredCoupon, language: str) -> CouponObject:
    """The coupon object with its group's settings over its own, and its template's text: the
    group's template when it sets one, else the coupon's (DESIGN 2.7). One read more for a
    coupon in a group, one more for a template.

    The group and template are those the coupon is counted on (`grpRef`, `tmplRef`): a number
    stored before groups and templates existed shows nothing, even once one of that number is
    made, until the coupon is updated with it (which counts it there, so that what a coupon
    shows can never be deleted under it)."""
    group = group_of(account, coupon)
    seen = shown(account, coupon, group, language)
    seen["template"] = template_shown(account, coupon, group)
    return seen


def template_shown(
    account: str, coupon: StoredCoupon, group: "GroupSettings | None"
) -> TemplateFields | None:
    """The text of the template a coupon shows: its group's when the group sets one, else its
    own (the one it is counted on)."""
    template = group["tmplIdx"] if group and group["tmplIdx"] else coupon.get("tmplRef")
    return _template_text(account, int(template or 0))


def group_of(account: str, coupon: StoredCoupon) -> "GroupSettings | None":
    """The settings of the group the coupon is counted on; None without one."""
    grp_idx = coupon.get("grpRef", 0)  # GROUPS.ref
    found = numbered.get(GROUPS, account, grp_idx) if grp_idx else None
    return cast("GroupSettings | None", found)


def _template_text(account: str, tmpl_idx: int) -> TemplateFields | None:
    """The text of the template; None without one, or for a number with no template behind
    it."""
    if not tmpl_idx:
        return None
    from coupons.service.templates import template_text

    template = numbered.get(TEMPLATES, account, tmpl_idx)
    return None if template is None else template_text(cast(StoredTemplate, template))


def _locked(coupon: StoredCoupon, *, used: bool, repriced: bool) -> bool:
    """Whether an edit is refused (4091): of terms while the coupon has uses, or of the terms
    that price an order once it priced one (pricing.PRICING_TERMS)."""
    return (used and coupon["useCnt"] > 0) or (repriced and bool(coupon.get("priced")))


def disable_coupon(account: str, request: "CodeRequest") -> str:
    """Stop the coupon's validation and redemption (4231) without deleting it or its history;
    at any time, even after use. Disabling a disabled coupon changes nothing. One UpdateItem."""
    return _set_status(account, request, rules.DISABLED)


def enable_coupon(account: str, request: "CodeRequest") -> str:
    """Undo disable_coupon (enabling an active coupon changes nothing). One UpdateItem."""
    return _set_status(account, request, rules.ACTIVE)


def _set_status(account: str, request: "CodeRequest", status: str) -> str:
    cpn_no = rules.normalize_code(request.cpnNo)
    if not coupon_items.set_status(account, cpn_no, status):
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    return cpn_no


def delete_coupon(account: str, query: CodeQuery) -> None:
    if not coupon_items.delete(account, query.cpnNo):
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)


def validate_coupon(account: str, query: ValidateQuery, language: str) -> CouponObject:
    """The coupon object if the coupon could be redeemed now (by `userId`, when named), else
    the first rule that refuses it. Never changes anything; one eventually consistent read."""
    coupon = coupon_items.get(account, query.cpnNo)
    if coupon is None:
        raise CouponError(ErrorCode.COUPON_NOT_FOUND)
    order = query.order
    per_user = int(coupon.get("perUserLimit") or 0)
    # A shared code counted per user: the user's count is an item of its own (a second read).
    user_uses = (
        coupon_items.user_uses(account, query.cpnNo, coupon["cid"], query.userId)
        if per_user and query.userId
        else None
    )
    refused = rules.refusal(
        coupon,
        clock.today(),
        user_id=query.userId,
        redeeming=False,
        order=order,
        user_uses=user_uses,
    )
    if refused is not None:
        raise CouponError(refused)
    seen = shown_in_group(account, coupon, language)
    if user_uses is not None:
        seen["userUseCnt"] = user_uses
        seen["userRemaining"] = max(0, per_user - user_uses)
    if order is not None:
        from coupons.pricing import quote

        seen.update(priced(quote(coupon, order), language))  # type: ignore[typeddict-item]
    return seen
