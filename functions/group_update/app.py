"""PUT /api/coupon/v1/group/update -> the grpIdx."""

from coupons.http import Request, endpoint
from coupons.models import GroupUpdateRequest
from coupons.service.groups import update_group


@endpoint
def handler(request: Request) -> int:
    return update_group(request.account, request.body(GroupUpdateRequest))
