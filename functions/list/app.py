"""GET /api/coupon/v1/list?limit=&cursor=&grpIdx=&userId= -> {items, cursor}, newest first."""

from typing import Any

from coupons.http import Request, endpoint
from coupons.queries import list_coupons


@endpoint
def handler(request: Request) -> dict[str, Any]:
    return list_coupons(request.account, request.params, request.language)
