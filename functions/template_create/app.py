"""POST /api/coupon/v1/template/create -> the new tmplIdx."""

from coupons.http import Request, endpoint
from coupons.models import TemplateText
from coupons.service.templates import create_template


@endpoint
def handler(request: Request) -> int:
    return create_template(request.account, request.body(TemplateText))
