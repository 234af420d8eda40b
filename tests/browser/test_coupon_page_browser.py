"""The coupon page in a real headless Chromium (DESIGN 2.8), served by make dev's gateway on
DynamoDB Local: what a customer sees on a phone in English and Korean, each state, the QR code
as a scanner reads it, and the staff's on-site use with JavaScript off and on. Screenshots go to
test-artifacts/screenshots/coupon-page-*.png."""

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Dialog, Page

from tests.browser.conftest import screenshot
from tests.conftest import Api

pytestmark = pytest.mark.integration
PASSWORD = "2468"
IMAGE = "https://img.example.com/spring.png"


def _png(width: int = 8, height: int = 4) -> bytes:
    """A yellow image, served for IMAGE by the browser's request routing: no network here."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (255, 209, 102)).save(out, format="PNG")
    return out.getvalue()


TEMPLATE = {
    "nm": "Spring",
    "description": "10% off everything in the shop.\nOnce per order.",
    "usage": "Show this page at the till, or use the code online.",
    "precautions": "Not valid with other offers.",
}
TEMPLATE_KO = {
    "nm": "봄",
    "description": "매장 전 품목 10% 할인.\n주문당 1회.",
    "usage": "계산대에서 이 화면을 보여 주거나 온라인에서 코드를 입력하세요.",
    "precautions": "다른 할인과 함께 사용할 수 없습니다.",
}


def _coupon(api: Api, template: dict[str, str] = TEMPLATE, **fields: Any) -> str:
    tmpl = api.call("POST", "/template/create", body=template).result
    group = api.call(
        "POST",
        "/group/create",
        body={"nm": "Spring", "imgUrl": IMAGE, "background": "#0B6E4F", "color": "#FFFFFF"},
    ).result
    made = api.create(
        nm="Spring sale", discTypeIdx=457, disc=10, tmplIdx=tmpl, grpIdx=group,
        url="https://shop.example.com/spring", onsiteYn="Y", onsitePwd=PASSWORD, useLimit=1,
        **fields,
    )  # fmt: skip
    assert made.code == 0, made.body
    return str(made.result)


def _url(api: Api, gateway_url: str, code: str, lang: str = "") -> str:
    items = api.list(limit="100").result["items"]  # validate refuses an unusable coupon
    path = urlsplit(next(i["pageUrl"] for i in items if i["cpnNo"] == code)).path
    return f"{gateway_url}{path}" + (f"?lang={lang}" if lang else "")


@pytest.fixture
def serve_image() -> Iterator[Any]:
    """Make a page fetch IMAGE from the test, not the internet."""

    def install(page: Page) -> Page:
        page.route(
            "https://img.example.com/**",
            lambda route: route.fulfill(status=200, content_type="image/png", body=_png(1200, 600)),
        )
        return page

    yield install


def _no_dialogs(page: Page) -> list[str]:
    opened: list[str] = []

    def seen(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    return opened


@pytest.mark.parametrize(("lang", "template"), [("en", TEMPLATE), ("ko", TEMPLATE_KO)])
def test_a_customer_opens_the_coupon_on_a_phone(
    api: Api, gateway_url: str, phone_page: Page, serve_image: Any, lang: str,
    template: dict[str, str],
) -> None:  # fmt: skip
    code = _coupon(api, template)
    page = serve_image(phone_page)
    page.goto(_url(api, gateway_url, code, lang))
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == "Spring sale"
    assert page.locator(".discount").inner_text() == "10%"
    assert page.locator(".code").inner_text() == code
    state = "Ready to use" if lang == "en" else "사용 가능"
    assert page.get_by_text(state).is_visible()
    assert page.get_by_text(template["usage"]).is_visible()
    go = page.get_by_role("link", name="Go to Use Coupon" if lang == "en" else "쿠폰 사용하러 가기")
    assert go.get_attribute("href") == "https://shop.example.com/spring"
    image = page.locator("article img")
    assert image.evaluate("img => img.naturalWidth") == 1200  # the group's image, loaded
    assert (
        page.locator("article a:has(img)").get_attribute("href")
        == "https://shop.example.com/spring"
    )
    # Fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The group's colours, readable.
    colour = page.locator("h1").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(255, 255, 255)"
    screenshot(page, f"coupon-page-{lang}-phone")


def test_the_qr_code_carries_the_code(api: Api, gateway_url: str, page: Page) -> None:
    import zxingcpp
    from PIL import Image

    code = _coupon(api)
    page.goto(_url(api, gateway_url, code))
    png = page.locator("figure svg").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [(r.format.name, r.text) for r in found] == [("QRCode", code)]


@pytest.mark.parametrize("javascript", [False, True])
def test_staff_use_the_coupon_on_site(
    api: Api, gateway_url: str, new_page: Any, serve_image: Any, javascript: bool
) -> None:
    from tests.browser.conftest import PHONE

    page = serve_image(new_page(**PHONE, java_script_enabled=javascript))
    dialogs = _no_dialogs(page)
    code = _coupon(api)
    page.goto(_url(api, gateway_url, code))
    suffix = "js" if javascript else "no-js"
    screenshot(page, f"coupon-page-onsite-before-{suffix}")
    password = page.get_by_label("On-site password")
    password.fill("0000")
    page.get_by_role("button", name="Use Coupon").click()
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The on-site password is missing or wrong."
    screenshot(page, f"coupon-page-onsite-wrong-{suffix}")
    assert api.validate(code).result["useCnt"] == 0
    page.get_by_label("On-site password").fill(PASSWORD)
    form = {"onsitePwd": PASSWORD, "nonce": page.locator("input[name=nonce]").input_value()}
    action = page.locator("form").get_attribute("action")
    page.get_by_role("button", name="Use Coupon").click()
    status = page.get_by_role("status")
    assert re.fullmatch(
        r"Coupon used on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.", status.inner_text()
    )
    assert page.locator(".state").inner_text().startswith("Used on ")
    assert page.get_by_role("button", name="Use Coupon").count() == 0
    screenshot(page, f"coupon-page-onsite-used-{suffix}")
    # The same form sent a second time (a double press): its nonce makes it a replay.
    again = page.request.post(f"{gateway_url}{action}", form=form)
    assert again.status == 200 and "Coupon used on" in again.text()
    assert len(api.redemptions(code).result["items"]) == 1
    assert dialogs == []


def test_the_page_in_korean_after_a_wrong_password(
    api: Api, gateway_url: str, phone_page: Page
) -> None:
    code = _coupon(api, TEMPLATE_KO)
    phone_page.goto(_url(api, gateway_url, code, "ko"))
    phone_page.get_by_label("매장 비밀번호").fill("0000")
    phone_page.get_by_role("button", name="쿠폰 사용").click()
    assert "비밀번호" in phone_page.get_by_role("alert").inner_text()
    assert phone_page.locator("html").get_attribute("lang") == "ko"
    screenshot(phone_page, "coupon-page-ko-wrong-password")


@pytest.mark.parametrize("state", ["not-yet", "disabled", "used-up", "unknown"])
def test_states_on_a_phone(
    api: Api, gateway_url: str, phone_page: Page, serve_image: Any, state: str
) -> None:
    serve_image(phone_page)
    from datetime import date, timedelta

    if state == "not-yet":
        start = date.today() + timedelta(days=30)
        code = _coupon(
            api, strtYmd=start.isoformat(), endYmd=(start + timedelta(days=30)).isoformat()
        )
    else:
        code = _coupon(api)
    url = _url(api, gateway_url, code)
    if state == "disabled":
        api.disable(code)
    if state == "used-up":
        api.redeem(code, onsitePwd=PASSWORD)
    if state == "unknown":
        url = f"{gateway_url}/c/bm90LmEudG9rZW4"
    answer = phone_page.goto(url)
    assert answer is not None
    expected = {
        "not-yet": "Not valid yet",
        "disabled": "No longer valid",
        "used-up": "Used on ",
        "unknown": "Coupon not found",
    }[state]
    assert expected in phone_page.locator("main").inner_text()
    assert answer.status == (404 if state == "unknown" else 200)
    assert phone_page.get_by_role("button", name="Use Coupon").count() == 0
    screenshot(phone_page, f"coupon-page-{state}")


def test_hostile_names_show_as_text(api: Api, gateway_url: str, page: Page) -> None:
    dialogs = _no_dialogs(page)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    code = _coupon(api, {**TEMPLATE, "usage": hostile}, memo="never shown")
    api.update(code, nm=hostile[:100])
    page.goto(_url(api, gateway_url, code))
    assert page.locator("h1").inner_text() == hostile[:100]
    assert page.get_by_text(hostile).count() >= 1
    assert page.locator("script").count() == 0
    assert dialogs == []
    screenshot(page, "coupon-page-hostile-text")


def test_keyboard_focus_is_visible(api: Api, gateway_url: str, page: Page) -> None:
    code = _coupon(api)
    page.goto(_url(api, gateway_url, code))
    page.get_by_label("On-site password").focus()
    page.keyboard.press("Tab")  # to the button, by keyboard: :focus-visible
    focused = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
    )
    assert focused == ["BUTTON", "solid", "3px"]
    screenshot(page, "coupon-page-keyboard-focus")


def test_unreadable_merchant_colours_are_replaced(
    api: Api, gateway_url: str, page: Page, serve_image: Any
) -> None:
    code = _coupon(api)
    group = api.call(
        "POST", "/group/create", body={"nm": "Yellow", "color": "#FFFF00", "background": "#FFFFFF"}
    ).result
    api.update(code, grpIdx=group)
    serve_image(page).goto(_url(api, gateway_url, code))
    assert page.locator("h1").evaluate("e => getComputedStyle(e).color") == "rgb(0, 0, 0)"
    screenshot(page, "coupon-page-yellow-on-white")
