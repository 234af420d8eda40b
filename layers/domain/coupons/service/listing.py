"""GET /list: the account's coupons (optionally one group's, one user's, or both), newest
first, through the listing indexes, each shown with its group's settings (DESIGN 2.7)."""

from typing import cast

from coupons import cursors
from coupons.queries import ListQuery
from coupons.records import CouponObject, GroupSettings, Page
from coupons.store import listing as coupon_listing
from coupons.store import numbered
from coupons.store.keys import BY_ACCOUNT, BY_GROUP, BY_USER, index_partition
from coupons.views import shown


def list_coupons(account: str, query: ListQuery, language: str) -> Page[CouponObject]:
    filter_group = None
    if query.userId is not None:  # a user has few coupons: their index, filtered by group
        index, partition = BY_USER, index_partition(account, BY_USER, query.userId)
        filter_group = query.grpIdx
    elif query.grpIdx is not None:
        index, partition = BY_GROUP, index_partition(account, BY_GROUP, query.grpIdx)
    else:
        index, partition = BY_ACCOUNT, index_partition(account, BY_ACCOUNT)
    scope = f"list|{account}|{partition}|{filter_group}"
    after = None
    if query.cursor is not None:
        code, cid = cursors.decode(cursors.secret(account), scope, query.cursor, 2)
        after = (code, cid)
    coupons, last = coupon_listing.coupons(
        account,
        index=index,
        partition=partition,
        group=filter_group,
        limit=query.limit,
        after=after,
    )
    # The groups the page's coupons are counted on (views.with_group), in one BatchGetItem;
    # none when no coupon listed is in a group.
    numbers = [coupon.get("grpRef", 0) for coupon in coupons]  # numbered.GROUPS.ref
    groups = numbered.get_several(numbered.GROUPS, account, [n for n in numbers if n])
    return {
        "items": [
            shown(account, coupon, cast("GroupSettings | None", groups.get(number)), language)
            for coupon, number in zip(coupons, numbers, strict=True)
        ],
        "cursor": cursors.encode(cursors.secret(account), scope, list(last)) if last else None,
    }
