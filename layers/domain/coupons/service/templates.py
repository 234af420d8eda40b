"""Coupon templates (DESIGN 2.7): the description, usage and precautions a coupon page shows,
written once and referred to by number (tmplIdx) from coupons and groups."""

from typing import TYPE_CHECKING, cast

from coupons import clock, cursors
from coupons.clock import local_time
from coupons.errors import CouponError, ErrorCode
from coupons.queries import PageQuery, TemplateQuery
from coupons.records import Page, StoredTemplate, TemplateFields, TemplateObject
from coupons.store import templates as template_items

if TYPE_CHECKING:
    from coupons.models import TemplateText, TemplateUpdateRequest


def create_template(account: str, request: "TemplateText") -> int:
    """A new template, numbered after the account's last one (two requests: the number, then
    the template)."""
    tmpl_idx = template_items.next_number(account)
    text = cast(TemplateFields, request.model_dump())
    template_items.put_new(
        account,
        {**text, "tmplIdx": tmpl_idx, "regTs": clock.now_ms()},  # type: ignore[typeddict-item]
    )
    return tmpl_idx


def update_template(account: str, request: "TemplateUpdateRequest") -> int:
    """The fields sent change, the others stay (the merged text is checked as on create)."""
    from coupons.models import TEMPLATE_FIELDS, TemplateText, parse

    stored = template_items.get(account, request.tmplIdx, consistent=True)
    if stored is None:
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    current = {name: stored[name] for name in TEMPLATE_FIELDS}  # type: ignore[literal-required]
    merged = parse(TemplateText, {**current, **request.edits}).model_dump()
    changes = {name: value for name, value in merged.items() if value != current[name]}
    if changes and not template_items.update(account, request.tmplIdx, changes):
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    return request.tmplIdx


def get_template(account: str, query: TemplateQuery) -> TemplateObject:
    template = template_items.get(account, query.tmplIdx)
    if template is None:
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    return template_object(template)


def list_templates(account: str, query: PageQuery) -> Page[TemplateObject]:
    """The account's templates in number order, a page at a time."""
    scope = f"templates|{account}"
    after = None
    if query.cursor is not None:
        (position,) = cursors.decode(cursors.secret(account), scope, query.cursor, 1)
        after = int(position)
    templates, more = template_items.page(account, limit=query.limit, after=after)
    last = str(templates[-1]["tmplIdx"]) if templates and more else None
    return {
        "items": [template_object(template) for template in templates],
        "cursor": cursors.encode(cursors.secret(account), scope, [last]) if last else None,
    }


def delete_template(account: str, query: TemplateQuery) -> None:
    """Delete the template, unless a coupon or group refers to it (4093)."""
    try:
        deleted = template_items.delete(account, query.tmplIdx)
    except template_items.InUse:
        raise CouponError(ErrorCode.STILL_IN_USE) from None
    if not deleted:
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)


def template_object(template: StoredTemplate) -> TemplateObject:
    return {
        "tmplIdx": int(template["tmplIdx"]),
        **template_text(template),
        "regYmdt": local_time(int(template["regTs"])),
    }


def template_text(template: StoredTemplate) -> TemplateFields:
    """The template's text, as a coupon shows it (validate's `template`)."""
    return {
        "nm": template["nm"],
        "description": template["description"],
        "usage": template["usage"],
        "precautions": template["precautions"],
    }
