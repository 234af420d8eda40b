"""Coupon groups (DESIGN 2.7): numbered per account, with settings (image, colours, links,
template, domain) that take priority over their coupons' own wherever a coupon is shown. The
settings are applied when a coupon is read (views.with_group), so changing a group changes all
its coupons at once, without writing them."""

from typing import TYPE_CHECKING, cast

from coupons import clock
from coupons.clock import local_time
from coupons.errors import CouponError, ErrorCode, storage_busy
from coupons.queries import GroupQuery, PageQuery
from coupons.records import GroupObject, Page, StoredGroup
from coupons.service.numbered import deleted, listed, refused_reference
from coupons.store import numbered
from coupons.store.client import ConditionFailed
from coupons.store.numbered import GROUPS, TEMPLATES

if TYPE_CHECKING:
    from coupons.models import GroupFields, GroupUpdateRequest

# Attempts of an update that moves the group to another template, each refused by another
# such update in between.
_EDIT_ATTEMPTS = 8


def create_group(account: str, request: "GroupFields") -> int:
    """A new group, numbered after the account's last one: two requests (the number, then the
    group, counted on its template in the same transaction)."""
    grp_idx = numbered.next_number(GROUPS, account)
    fields = request.model_dump()
    template = fields["tmplIdx"]
    group = {
        **fields,
        "grpIdx": grp_idx,
        "regTs": clock.now_ms(),
        **({TEMPLATES.ref: template} if template else {}),
    }
    try:
        numbered.put_new(GROUPS, account, grp_idx, group, {TEMPLATES: (0, template)})
    except numbered.Missing as missing:
        raise refused_reference(missing) from None
    return grp_idx


def update_group(account: str, request: "GroupUpdateRequest") -> int:
    """The fields sent change, the others stay (the merged group is checked as on create); a
    new template is counted on in the same transaction, the old one no more."""
    from coupons.models import GROUP_FIELDS, GroupFields, parse

    for _ in range(_EDIT_ATTEMPTS):
        stored = numbered.get(GROUPS, account, request.grpIdx, consistent=True)
        if stored is None:
            raise CouponError(ErrorCode.GROUP_NOT_FOUND)
        current = {name: stored[name] for name in GROUP_FIELDS}
        merged = parse(GroupFields, {**current, **request.edits}).model_dump()
        changes = {name: value for name, value in merged.items() if value != current[name]}
        if not changes:
            return request.grpIdx
        moves = (
            {TEMPLATES: (int(stored.get(TEMPLATES.ref) or 0), changes["tmplIdx"])}
            if "tmplIdx" in changes
            else {}
        )
        try:
            if not numbered.update(GROUPS, account, request.grpIdx, changes, moves):
                raise CouponError(ErrorCode.GROUP_NOT_FOUND)
            return request.grpIdx
        except numbered.Missing as missing:
            raise refused_reference(missing) from None
        except ConditionFailed:
            continue  # moved to another template in between: merge again over what is there
    raise storage_busy()


def get_group(account: str, query: GroupQuery) -> GroupObject:
    group = numbered.get(GROUPS, account, query.grpIdx)
    if group is None:
        raise CouponError(ErrorCode.GROUP_NOT_FOUND)
    return group_object(cast(StoredGroup, group))


def list_groups(account: str, query: PageQuery) -> Page[GroupObject]:
    """The account's groups in number order, a page at a time."""
    return listed(GROUPS, account, query, group_object)


def delete_group(account: str, query: GroupQuery) -> None:
    """Delete the group, unless a coupon refers to it (4093); its template counts it no more."""
    deleted(GROUPS, account, query.grpIdx, ErrorCode.GROUP_NOT_FOUND, refers_to=(TEMPLATES,))


def group_object(group: StoredGroup) -> GroupObject:
    return {
        "grpIdx": int(group["grpIdx"]),
        "nm": group["nm"],
        "imgUrl": group["imgUrl"],
        "color": group["color"],
        "background": group["background"],
        "url": group["url"],
        "tmplIdx": int(group["tmplIdx"]),
        "domain": group["domain"],
        "memo": group["memo"],
        "couponCnt": int(group.get("couponCnt") or 0),
        "regYmdt": local_time(int(group["regTs"])),
    }
