"""PUT /api/coupon/v1/template/update -> the tmplIdx."""

from coupons.http import Request, endpoint
from coupons.models import TemplateUpdateRequest
from coupons.service.templates import update_template


@endpoint
def handler(request: Request) -> int:
    return update_template(request.account, request.body(TemplateUpdateRequest))
