"""GET /api/coupon/v1/group?grpIdx= -> the group object."""

from coupons.http import Request, endpoint
from coupons.queries import GroupQuery
from coupons.records import GroupObject
from coupons.service.groups import get_group


@endpoint
def handler(request: Request) -> GroupObject:
    return get_group(request.account, request.query(GroupQuery))
