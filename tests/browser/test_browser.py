"""The test browser itself: Chromium loads a page served on 127.0.0.1, its DOM is read, a form
is filled and submitted with JavaScript off (the browser posts it) and on (a script sends it),
screenshots are saved, and Hangul is drawn with a Korean font, not as boxes."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import SCREENSHOTS, screenshot

PAGE = """<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coupon</title>
<style>body { font-family: sans-serif; margin: 24px; } h1 { font-size: 32px; }</style>
</head>
<body>
<h1 id="title">Redeem a coupon</h1>
<p id="korean">쿠폰 사용</p>
<form id="redeem" method="post" action="/submit">
  <label>Code <input name="code" id="code"></label>
  <label>비밀번호 <input name="password" id="password" type="password"></label>
  <button type="submit">사용하기</button>
</form>
<p id="result"></p>
<script>
document.getElementById("redeem").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await fetch("/submit", {
    method: "POST",
    headers: { "Accept": "application/json" },
    body: new URLSearchParams(new FormData(event.target)),
  });
  document.getElementById("result").textContent = (await answer.json()).message;
});
</script>
</body>
</html>
"""

TOFU = "\ue000\ue001"  # private-use code points: no font has them, every browser draws boxes


@dataclass
class Site:
    url: str
    # (how it came: "form" or "script", the form's fields), one per POST /submit
    posts: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self.send_error(404)
                return
            self._send("text/html; charset=utf-8", PAGE.encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            by_script = self.headers.get("Accept") == "application/json"
            site.posts.append(("script" if by_script else "form", fields))
            message = f"쿠폰 {fields.get('code', '')} 사용 완료"
            if by_script:
                self._send("application/json", json.dumps({"message": message}).encode())
            else:
                html = f'<!doctype html><meta charset="utf-8"><p id="result">{message}</p>'
                self._send("text/html; charset=utf-8", html.encode())

        def _send(self, content_type: str, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Site("")))
    site = Site(f"http://127.0.0.1:{server.server_address[1]}/")
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _fill(page: Page) -> None:
    page.fill("#code", "WELCOME10")
    page.fill("#password", "1234")
    page.get_by_role("button", name="사용하기").click()


def test_reads_the_dom(page: Page, site: Site) -> None:
    page.goto(site.url)
    assert page.title() == "Coupon"
    assert page.locator("#title").inner_text() == "Redeem a coupon"
    assert page.locator("#korean").inner_text() == "쿠폰 사용"
    assert page.evaluate("navigator.userAgent").startswith("Mozilla/5.0")
    assert page.viewport_size == {"width": 1280, "height": 720}


def test_a_form_posts_without_javascript(no_js_page: Page, site: Site) -> None:
    no_js_page.goto(site.url)
    _fill(no_js_page)
    no_js_page.wait_for_url(f"{site.url}submit")
    assert no_js_page.locator("#result").inner_text() == "쿠폰 WELCOME10 사용 완료"
    assert site.posts == [("form", {"code": "WELCOME10", "password": "1234"})]
    assert screenshot(no_js_page, "browser-self-test-no-js").is_file()


def test_a_script_sends_the_form_with_javascript(page: Page, site: Site) -> None:
    page.goto(site.url)
    _fill(page)
    page.locator("#result", has_text="사용 완료").wait_for()
    assert page.url == site.url  # the script sent it: no navigation
    assert page.locator("#result").inner_text() == "쿠폰 WELCOME10 사용 완료"
    assert site.posts == [("script", {"code": "WELCOME10", "password": "1234"})]
    path = screenshot(page, "browser-self-test")
    assert path == SCREENSHOTS / "browser-self-test.png"
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("page", [{"viewport": {"width": 800, "height": 600}}], indirect=True)
def test_page_takes_context_options(page: Page, site: Site) -> None:
    page.goto(site.url)
    assert page.evaluate("[innerWidth, innerHeight]") == [800, 600]


def test_phone_page(phone_page: Page, site: Site) -> None:
    phone_page.goto(site.url)
    assert phone_page.evaluate("[innerWidth, devicePixelRatio]") == [390, 2]
    assert phone_page.evaluate("matchMedia('(pointer: coarse)').matches") is True
    screenshot(phone_page, "browser-self-test-phone")


def test_hangul_is_drawn_with_a_korean_font(page: Page, site: Site) -> None:
    page.goto(site.url)
    # The fonts Chromium drew the node's text with, as fontconfig found them.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#korean"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    hangul = [f for f in fonts if f["glyphCount"] == 4]  # 쿠, 폰, 사, 용 (the space aside)
    assert [f["postScriptName"] for f in hangul] == ["NotoSansKR-Regular"], fonts
    # And they are not boxes: boxes are as wide as unknown characters drawn in the same font.
    widths = page.evaluate(
        """([text, tofu]) => {
            const context = document.createElement("canvas").getContext("2d");
            context.font = "32px sans-serif";
            return [context.measureText(text).width, context.measureText(tofu).width];
        }""",
        ["쿠폰", TOFU],
    )
    assert widths[0] > 0
    assert widths[0] != widths[1], widths
    screenshot(page, "browser-self-test-korean")
