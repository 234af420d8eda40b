"""POST /api/coupon/v1/group/create -> the new grpIdx."""

from coupons.http import Request, endpoint
from coupons.models import GroupFields
from coupons.service.groups import create_group


@endpoint
def handler(request: Request) -> int:
    return create_group(request.account, request.body(GroupFields))
