"""DELETE /api/coupon/v1/group/delete?grpIdx= -> null."""

from coupons.http import Request, endpoint
from coupons.queries import GroupQuery
from coupons.service.groups import delete_group


@endpoint
def handler(request: Request) -> None:
    delete_group(request.account, request.query(GroupQuery))
