"""The public coupon page (DESIGN 2.8) through its handlers on moto: who may open it, what it
shows and never shows, its states and languages, and the staff's on-site use. The page in a
real browser: tests/browser/test_coupon_page_browser.py."""

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from coupons.page import tokens
from coupons.page.view import contrast, readable, rgb
from tests.conftest import Api, Response, account_of, invoke_handler

PRIVATE = {
    "memo": "MEMO-secret-7731",
    "userId": "USER-secret-7732",
    "userNm": "NAME-secret-7733",
    "userPhnno": "+82 10-7734-0000",
    "userEml": "secret7735@example.com",
    "userEtc1": "ETC1-secret-7736",
    "userEtc2": "ETC2-secret-7737",
}
PASSWORD = "4321"


def _page_path(api: Api, code: str) -> str:
    """The coupon's page, from the list (validate refuses a coupon that is not usable)."""
    items = api.list(limit="100").result["items"]
    url = next(str(item["pageUrl"]) for item in items if item["cpnNo"] == code)
    return urlsplit(url).path


def _open(path: str, *, lang: str | None = None, accept: str | None = None) -> Response:
    headers = {"accept-language": accept} if accept else {}
    target = path + (f"?lang={lang}" if lang else "")
    return invoke_handler("GET", target, headers, b"")


def _use(path: str, form: dict[str, str], *, lang: str | None = None) -> Response:
    target = f"{path}/use" + (f"?lang={lang}" if lang else "")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return invoke_handler("POST", target, headers, urlencode(form).encode())


def _nonce(html: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', html)
    assert found, "the page has no on-site form"
    return found.group(1)


def _text(html: str) -> str:
    """The page's visible text, roughly: tags out, entities as written."""
    return re.sub(r"\s+", " ", re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S))


def test_validate_gives_the_page_url_on_the_coupons_domain(api: Api) -> None:
    code = api.create(cpnNo="PAGE20260001", domain="https://coupons.shop.example.com").result
    url = api.validate(code).result["pageUrl"]
    assert url.startswith("https://coupons.shop.example.com/c/")
    listed = api.list().result["items"][0]
    assert listed["pageUrl"] == url  # stable: the same link wherever it is shown
    answer = _open(urlsplit(url).path)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


def test_the_page_shows_the_coupon(api: Api) -> None:
    tmpl = api.call(
        "POST",
        "/template/create",
        body={"nm": "T", "description": "10% off.\nOnce per order.", "usage": "Show it."},
    ).result
    code = api.create(
        cpnNo="PAGE20260002", nm="Spring sale", discTypeIdx=457, disc=10, tmplIdx=tmpl,
        url="https://shop.example.com/spring",
    ).result  # fmt: skip
    coupon = api.validate(code).result
    html = _open(_page_path(api, code)).body
    text = _text(html)
    for shown in ("Spring sale", "10%", coupon["strtYmd"], coupon["endYmd"], code, "Ready to use"):
        assert shown in text, shown
    assert "10% off.\nOnce per order." in html  # newlines kept (white-space: pre-line)
    assert "Show it." in text and "Details" in text and "How to use" in text
    assert '<a class="button" href="https://shop.example.com/spring"' in html  # Go to Use Coupon
    assert re.search(r"<svg[^>]*viewBox", html), "the QR code is inline SVG"
    assert '<html lang="en">' in html


def test_the_page_never_shows_private_fields(api: Api) -> None:
    code = api.create(
        cpnNo="PAGE20260003", onsiteYn="Y", onsitePwd=PASSWORD, useLimit=1, **PRIVATE
    ).result
    path = _page_path(api, code)
    pages = [_open(path).body, _open(path, lang="ko").body]
    pages.append(_use(path, {"onsitePwd": "0000", "nonce": _nonce(pages[0])}).body)
    pages.append(_use(path, {"onsitePwd": PASSWORD, "nonce": _nonce(pages[0])}).body)
    for html in pages:
        for value in [*PRIVATE.values(), PASSWORD, account_of(api)]:
            assert value not in html, value
        assert "APIKey" not in html and str(api.api_key) not in html


def test_security_headers(api: Api) -> None:
    answer = _open(_page_path(api, api.create().result))
    headers = answer.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "img-src https:;" in policy and "script-src" not in policy  # none at all
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'<style nonce="{nonce.group(1)}">' in answer.body
    assert "style=" not in answer.body  # no inline style attribute (the CSP would block it)
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "<script" not in answer.body


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'


def test_merchant_text_is_escaped_everywhere(api: Api) -> None:
    tmpl = api.call(
        "POST",
        "/template/create",
        body={"nm": HOSTILE, "description": HOSTILE, "usage": HOSTILE, "precautions": HOSTILE},
    ).result
    group = api.call(
        "POST", "/group/create", body={"nm": HOSTILE, "url": 'https://x.example.com/"><script>'}
    ).result
    code = api.create(nm=HOSTILE[:100], tmplIdx=tmpl, grpIdx=group).result
    html = _open(_page_path(api, code)).body
    assert "<script" not in html and "<img src=x" not in html
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in html
    assert 'href="https://x.example.com/&quot;&gt;&lt;script&gt;"' in html


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "Ready to use"),
        ({"strtYmd": "+3"}, "Not valid yet: from"),
        ({"status": "DISABLED"}, "No longer valid"),
    ],
)
def test_states(api: Api, fields: dict[str, Any], expected: str) -> None:
    from datetime import timedelta

    from coupons import clock

    status = fields.pop("status", None)
    if "strtYmd" in fields:
        today = clock.today()
        fields = {
            "strtYmd": (today + timedelta(days=3)).isoformat(),
            "endYmd": (today + timedelta(days=30)).isoformat(),
        }
    code = api.create(onsiteYn="Y", onsitePwd=PASSWORD, **fields).result
    path = _page_path(api, code)
    if status:
        api.disable(code)
    html = _open(path).body
    assert expected in _text(html)
    # The staff's form only while the coupon can be used.
    assert ('name="onsitePwd"' in html) == (expected == "Ready to use")


def test_an_expired_coupon_says_so(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from coupons import clock

    code = api.create(cpnNo="PAGE20260004").result
    path = _page_path(api, code)
    end = api.validate(code).result["endYmd"]
    today = clock.today()
    monkeypatch.setattr(clock, "today", lambda: today + timedelta(days=800))
    assert f"Expired on {end}" in _text(_open(path).body)


def test_the_page_in_korean(api: Api) -> None:
    code = api.create(cpnNo="PAGE20260005", discTypeIdx=458, disc=5000, discCurrency="KRW").result
    path = _page_path(api, code)
    for answer in (_open(path, lang="ko"), _open(path, accept="ko-KR,ko;q=0.9,en;q=0.5")):
        assert '<html lang="ko">' in answer.body
        assert "사용 가능" in answer.body and "₩5,000" in answer.body
    assert '<html lang="en">' in _open(path, lang="xx", accept="en").body


def test_unknown_forged_and_dead_tokens_get_the_same_404(api: Api, other_api: Api) -> None:
    code = api.create(cpnNo="PAGE20260006").result
    path = _page_path(api, code)
    token = path.removeprefix("/c/")
    parts = tokens.decode(token)
    assert parts is not None
    forged = [
        tokens.encode(parts.account, parts.cpn_no, tokens.new_key()),  # a guessed key
        tokens.encode(parts.account, api.create().result, parts.key),  # another coupon
        tokens.encode(account_of(other_api), parts.cpn_no, parts.key),  # another account
        "not-a-token",
        token[:-2],
        "x" * 300,
    ]
    answers = [_open(f"/c/{bad}") for bad in forged]
    api.delete(code)
    answers.append(_open(path))  # dead with its coupon
    api.create(cpnNo="PAGE20260006")  # the same code again: a new page, the old link stays dead
    answers.append(_open(path))
    assert api.validate("PAGE20260006").result["pageUrl"].endswith(path) is False
    assert {a.status for a in answers} == {404}
    bodies = {re.sub(r'nonce="[^"]+"', "", a.body) for a in answers}
    assert len(bodies) == 1  # the same page for every one
    assert "Coupon not found" in bodies.pop()


# --- on-site use ---------------------------------------------------------------------------


def _onsite(api: Api, **fields: Any) -> tuple[str, str]:
    code = api.create(onsiteYn="Y", onsitePwd=PASSWORD, useLimit=1, **fields).result
    return code, _page_path(api, code)


def test_the_right_password_uses_the_coupon_once(api: Api) -> None:
    code, path = _onsite(api)
    nonce = _nonce(_open(path).body)
    used = _use(path, {"onsitePwd": PASSWORD, "nonce": nonce})
    assert used.status == 200
    assert "Coupon used on" in _text(used.body) and "Used on" in _text(used.body)
    assert 'name="onsitePwd"' not in used.body  # used up: no form any more
    again = _use(path, {"onsitePwd": PASSWORD, "nonce": nonce})  # the button pressed twice
    assert again.status == 200 and "Coupon used on" in _text(again.body)
    assert api.validate(code).code == 4222
    history = api.redemptions(code).result["items"]
    assert len(history) == 1 and history[0]["memo"] == "on site (coupon page)"
    assert "Used on" in _text(_open(path).body)  # later visits show when


def test_a_wrong_password_counts_nothing_and_says_so(api: Api) -> None:
    code, path = _onsite(api)
    nonce = _nonce(_open(path).body)
    wrong = _use(path, {"onsitePwd": "0000", "nonce": nonce})
    assert wrong.status == 422
    assert "The on-site password is missing or wrong." in _text(wrong.body)
    assert 'role="alert"' in wrong.body and 'name="onsitePwd"' in wrong.body
    korean = _use(path, {"onsitePwd": "0000", "nonce": nonce}, lang="ko")
    assert "비밀번호" in _text(korean.body) and '<html lang="ko">' in korean.body
    assert api.validate(code).result["useCnt"] == 0
    assert _use(path, {"onsitePwd": PASSWORD, "nonce": nonce}).status == 200  # then right


def test_a_locked_coupon_says_so(api: Api) -> None:
    from coupons.rules import PASSWORD_FAILURES

    code, path = _onsite(api)
    nonce = _nonce(_open(path).body)
    for _ in range(PASSWORD_FAILURES):
        _use(path, {"onsitePwd": "0000", "nonce": nonce})
    locked = _use(path, {"onsitePwd": PASSWORD, "nonce": nonce})
    assert locked.status == 429
    assert "wrong passwords; try again later" in _text(locked.body)
    assert api.validate(code).result["useCnt"] == 0


def test_bad_forms_are_refused_in_the_page(api: Api) -> None:
    code, path = _onsite(api)
    for form in ({}, {"onsitePwd": "x" * 101}, {"onsitePwd": PASSWORD, "nonce": "\x01"}):
        answer = _use(path, form)
        assert answer.status in (400, 422), form
        assert "<html" in answer.body
    assert api.validate(code).result["useCnt"] == 0
    assert _use("/c/not-a-token", {"onsitePwd": PASSWORD}).status == 404


def test_the_page_shows_the_groups_look(api: Api) -> None:
    group = api.call(
        "POST",
        "/group/create",
        body={
            "nm": "G",
            "imgUrl": "https://img.example.com/spring.png",
            "background": "#0B6E4F",
            "color": "#FFFFFF",
            "domain": "https://group.example.com",
        },
    ).result
    code = api.create(grpIdx=group).result
    url = api.validate(code).result["pageUrl"]
    assert url.startswith("https://group.example.com/c/")
    html = _open(urlsplit(url).path).body
    assert '<img src="https://img.example.com/spring.png"' in html
    assert "--bg:#0B6E4F;--fg:#FFFFFF" in html


def test_colours_that_would_be_unreadable_are_replaced() -> None:
    assert readable("#FFFFFF", "#0B6E4F") == "#FFFFFF"  # 7.0:1, the merchant's own
    assert readable("#FFFF00", "#FFFFFF") == "#000000"  # yellow on white: 1.07:1
    assert readable("#101010", "#000000") == "#FFFFFF"
    assert readable("#777777", "#888888") in ("#000000", "#FFFFFF")
    for color, background in (("#FFFF00", "#FFFFFF"), ("#101010", "#000000"), ("#123", "#0000")):
        chosen = readable(color, background)
        ground = rgb(background)
        assert contrast(rgb(chosen, ground), ground) >= 4.5


def test_the_largest_page_stays_under_30_kb(api: Api) -> None:
    korean = "가" * 2000
    tmpl = api.call(
        "POST",
        "/template/create",
        body={"nm": "T", "description": korean, "usage": korean, "precautions": korean},
    ).result
    code = api.create(
        nm="가" * 100, tmplIdx=tmpl, onsiteYn="Y", onsitePwd=PASSWORD, cpnNoDigits=16,
        url="https://shop.example.com/" + "a" * 2000, useLimit=0,
    ).result  # fmt: skip
    size = len(_open(_page_path(api, code), lang="ko").body.encode())
    assert size <= 30 * 1024, size


def test_the_page_reads_one_item_for_a_plain_coupon(api: Api, dynamodb_requests: list[str]) -> None:
    path = _page_path(api, api.create().result)
    dynamodb_requests.clear()
    assert _open(path).status == 200
    assert dynamodb_requests == ["GetItem"]


@pytest.mark.parametrize(
    "fields",
    [
        {"onsiteYn": "N", "onsitePwd": ""},  # an online coupon: no password protects it
        {"onsiteYn": "Y", "onsitePwd": ""},  # on site, but no password set
        {"onsiteYn": "Y", "onsitePwd": PASSWORD, "minOrderAmt": 20, "discCurrency": "USD"},
    ],
)
def test_only_in_store_coupons_with_a_password_are_used_from_the_page(
    api: Api, fields: dict[str, Any]
) -> None:
    code = api.create(useLimit=1, **fields).result
    path = _page_path(api, code)
    assert 'name="onsitePwd"' not in _open(path).body  # not offered
    forced = _use(path, {"onsitePwd": fields["onsitePwd"], "nonce": "n-1"})  # posted anyway
    assert forced.status == 409
    assert "This coupon can't be used here" in forced.body
    assert api.validate(code, amount="50").result["useCnt"] == 0


def test_a_coupon_changed_between_the_pages_check_and_its_use_is_not_used(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page checks the coupon it read (eventually consistent), then redeems: the
    redemption's own condition requires the same instance, still on site with a password, so
    a coupon the merchant made an online one (or deleted and created again) in between is not
    used, whatever password was posted."""
    from coupons.service import page as page_service

    code, path = _onsite(api)
    opened = page_service._open(path.removeprefix("/c/"))
    api.update(code, onsiteYn="N", onsitePwd="")  # in between: no password protects it now
    monkeypatch.setattr(page_service, "_open", lambda token: opened)  # the stale read
    answer = _use(path, {"onsitePwd": "anything", "nonce": "n-1"})
    assert answer.status == 409 and "be used here" in answer.body
    assert api.validate(code).result["useCnt"] == 0
    api.delete(code)
    api.create(cpnNo=code, useLimit=1)  # the same code, an online coupon: another instance
    answer = _use(path, {"onsitePwd": PASSWORD, "nonce": "n-2"})
    assert answer.status in (404, 409)
    assert api.validate(code).result["useCnt"] == 0


def test_quotes_in_merchant_text_stay_one_byte() -> None:
    from coupons.page.html import escape

    assert escape('"10%" off <b>') == '"10%" off &lt;b&gt;'


def test_translucent_backgrounds_are_judged_over_the_page_behind_them() -> None:
    # Grey text on a transparent card: the page behind it (#F2F2F4), not white, decides.
    assert readable("#767676", "#00000000") != "#767676"


def test_a_form_sent_base64_encoded_is_read(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """API Gateway may hand a form body over base64-encoded (isBase64Encoded)."""
    import base64

    import tests.conftest as harness
    from devstack.gateway import build_event as real

    def encoded(**fields: Any) -> dict[str, Any]:
        event = real(**fields)
        event.update(body=base64.b64encode(fields["body"]).decode(), isBase64Encoded=True)
        return event

    code, path = _onsite(api)
    nonce = _nonce(_open(path).body)
    monkeypatch.setattr(harness, "build_event", encoded)
    answer = _use(path, {"onsitePwd": PASSWORD, "nonce": nonce})
    assert answer.status == 200 and "Coupon used on" in answer.body
    monkeypatch.undo()
    assert api.validate(code).code == 4222
