"""GET /api/coupon/v1/group/list?limit=&cursor= -> {items, cursor}, in grpIdx order."""

from coupons.http import Request, endpoint
from coupons.queries import PageQuery
from coupons.records import GroupObject, Page
from coupons.service.groups import list_groups


@endpoint
def handler(request: Request) -> Page[GroupObject]:
    return list_groups(request.account, request.query(PageQuery))
