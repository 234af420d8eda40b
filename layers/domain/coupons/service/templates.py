"""Coupon templates (DESIGN 2.7): the description, usage and precautions a coupon page shows,
written once and referred to by number (tmplIdx) from coupons and groups."""

from typing import TYPE_CHECKING, cast

from coupons import clock
from coupons.clock import local_time
from coupons.errors import CouponError, ErrorCode
from coupons.queries import PageQuery, TemplateQuery
from coupons.records import Page, StoredTemplate, TemplateFields, TemplateObject
from coupons.service.numbered import deleted, listed
from coupons.store import numbered
from coupons.store.numbered import TEMPLATES

if TYPE_CHECKING:
    from coupons.models import TemplateText, TemplateUpdateRequest


def create_template(account: str, request: "TemplateText") -> int:
    """A new template, numbered after the account's last one (two requests: the number, then
    the template)."""
    tmpl_idx = numbered.next_number(TEMPLATES, account)
    text = request.model_dump()
    numbered.put_new(
        TEMPLATES, account, tmpl_idx, {**text, "tmplIdx": tmpl_idx, "regTs": clock.now_ms()}, {}
    )
    return tmpl_idx


def update_template(account: str, request: "TemplateUpdateRequest") -> int:
    """The fields sent change, the others stay (the merged text is checked as on create)."""
    from coupons.models import TEMPLATE_FIELDS, TemplateText, parse

    stored = numbered.get(TEMPLATES, account, request.tmplIdx, consistent=True)
    if stored is None:
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    current = {name: stored[name] for name in TEMPLATE_FIELDS}
    merged = parse(TemplateText, {**current, **request.edits}).model_dump()
    changes = {name: value for name, value in merged.items() if value != current[name]}
    if changes and not numbered.update(TEMPLATES, account, request.tmplIdx, changes, {}):
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    return request.tmplIdx


def get_template(account: str, query: TemplateQuery) -> TemplateObject:
    template = numbered.get(TEMPLATES, account, query.tmplIdx)
    if template is None:
        raise CouponError(ErrorCode.TEMPLATE_NOT_FOUND)
    return template_object(cast(StoredTemplate, template))


def list_templates(account: str, query: PageQuery) -> Page[TemplateObject]:
    """The account's templates in number order, a page at a time."""
    return listed(TEMPLATES, account, query, template_object)


def delete_template(account: str, query: TemplateQuery) -> None:
    """Delete the template, unless a coupon or group refers to it (4093)."""
    deleted(TEMPLATES, account, query.tmplIdx, ErrorCode.TEMPLATE_NOT_FOUND)


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
