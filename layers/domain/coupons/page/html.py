"""The coupon page as HTML: server-rendered, escaped everywhere (names, template text, links
and colours are merchant input), usable without JavaScript (there is none), readable on a
phone. One <style> element, allowed by the response's CSP nonce; no inline style attributes."""

from html import escape as _escape

from coupons.page.text import text
from coupons.page.view import PAGE_BACKGROUND, CouponPage, readable

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Apple SD Gothic Neo",sans-serif;background:PAGE_BG;color:#1A1A1A}
main{max-width:28rem;margin:0 auto;padding:1rem}
.card{background:var(--bg);color:var(--fg);border-radius:1rem;overflow:hidden;box-shadow:0 2px 12px rgba(0,0,0,.12)}
.card img{display:block;width:100%;height:auto;max-height:14rem;object-fit:cover;color:var(--fg)}
.card>a{color:var(--fg)}
.head{padding:1.25rem 1.25rem .5rem}
h1{font-size:1.35rem;margin:0 0 .25rem;overflow-wrap:anywhere}
.discount{font-size:2.5rem;font-weight:800;line-height:1.1;margin:.25rem 0}
.dates{margin:0}
.state{display:inline-block;margin:.75rem 0 0;padding:.2rem .75rem;border-radius:999px;font-weight:700;background:#FFFFFF;color:#1A1A1A;border:2px solid currentColor}
.state.bad{color:#8A1C1C}.state.good{color:#0B5D1E}
.ticket{background:#FFFFFF;color:#1A1A1A;margin:1rem;padding:1rem;border-radius:.75rem;text-align:center}
.ticket .label{margin:0;font-size:.875rem;color:#4A4A4A}
.code{font:700 1.6rem/1.3 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;letter-spacing:.08em;margin:.25rem 0 .75rem;overflow-wrap:anywhere;user-select:all}
figure{margin:0}
.ticket svg{display:block;margin:0 auto;width:11rem;height:11rem;max-width:100%}
.used .ticket{outline:3px dashed #8A1C1C;outline-offset:-.5rem}
.body{padding:0 1.25rem 1.25rem}
h2{font-size:1rem;margin:1rem 0 .25rem}
.section p{margin:0;white-space:pre-line;overflow-wrap:anywhere}
.button{display:block;width:100%;margin:1rem 0 0;padding:.85rem 1rem;border-radius:.75rem;border:0;font:inherit;font-weight:700;text-align:center;text-decoration:none;background:#1A1A1A;color:#FFFFFF;cursor:pointer}
form{margin:1rem 0 0;padding:1rem;border-radius:.75rem;background:#FFFFFF;color:#1A1A1A}
form h2{margin-top:0}
label{display:block;font-weight:700;margin:.5rem 0 .25rem}
input{width:100%;padding:.7rem;font:inherit;border:2px solid #6B6B6B;border-radius:.5rem;background:#FFFFFF;color:#1A1A1A}
.help{margin:0;font-size:.875rem;color:#4A4A4A}
.notice{margin:0 0 1rem;padding:.75rem 1rem;border-radius:.75rem;font-weight:700;border:2px solid currentColor;background:#FFFFFF}
.notice.ok{color:#0B5D1E}.notice.error{color:#8A1C1C}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #1A73E8;outline-offset:3px;box-shadow:0 0 0 6px #FFFFFF}
.card>a:focus-visible{outline-offset:-3px;box-shadow:none}
nav{margin:1rem 0;text-align:center;font-size:.875rem}
nav a{color:#1A1A1A}
""".replace("PAGE_BG", PAGE_BACKGROUND)


def escape(text: str) -> str:
    """Text content: <, > and & only (quotes are safe outside attributes, and stay 1 byte)."""
    return _escape(text, quote=False)


def _attr(value: str) -> str:
    return _escape(value, quote=True)


def _document(language: str, title: str, nonce: str, body: str, extra_css: str = "") -> str:
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title>"
        f'<style nonce="{_attr(nonce)}">{_CSS}{extra_css}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )


def coupon_page(page: CouponPage, nonce: str, qr_svg: str) -> str:
    """The page of one coupon."""
    lang = page.language
    # Colours are validated hex (models.py) before they are stored; escaped all the same.
    colours = f".card{{--bg:{_attr(page.background)};--fg:{_attr(readable(page.color, page.background))}}}"
    parts: list[str] = []
    if page.notice is not None:
        role, kind = ("status", "ok") if page.notice.ok else ("alert", "error")
        parts.append(f'<p class="notice {kind}" role="{role}">{escape(page.notice.text)}</p>')
    parts.append(f'<article class="card{" used" if page.state == "used_up" else ""}">')
    if page.image:
        image = f'<img src="{_attr(page.image)}" alt="{_attr(page.nm)}">'
        if page.url:
            image = f'<a href="{_attr(page.url)}" rel="noopener noreferrer">{image}</a>'
        parts.append(image)
    parts.append(
        '<div class="head">'
        f"<h1>{escape(page.nm)}</h1>"
        f'<p class="discount">{escape(page.discount)}</p>'
        f'<p class="dates">{escape(text("valid", lang, start=page.start, end=page.end))}</p>'
        f"{_state(page)}</div>"
    )
    parts.append(
        '<section class="ticket">'
        f'<p class="label" id="code-label">{escape(text("code", lang))}</p>'
        f'<p class="code" aria-labelledby="code-label">{escape(page.cpn_no)}</p>'
        f'<figure role="img" aria-label="{_attr(text("qr", lang))}">{qr_svg}</figure>'
        "</section>"
    )
    body: list[str] = [
        f'<section class="section"><h2>{escape(text(name, lang))}</h2><p>{escape(content)}</p></section>'
        for name, content in page.sections
    ]
    if page.url and page.state == "usable":
        body.append(
            f'<a class="button" href="{_attr(page.url)}" rel="noopener noreferrer">'
            f"{escape(text('go', lang))}</a>"
        )
    if page.onsite:
        body.append(_onsite_form(page))
    parts.append(f'<div class="body">{"".join(body)}</div></article>')
    other = "ko" if lang == "en" else "en"
    parts.append(
        f'<nav><a href="/c/{_attr(page.token)}?lang={other}" lang="{other}" hreflang="{other}">'
        f"{escape(text('language', lang))}</a></nav>"
    )
    return _document(lang, f"{page.nm} · {text('title', lang)}", nonce, "".join(parts), colours)


def _state(page: CouponPage) -> str:
    lang = page.language
    if page.state == "used_up" and page.used_at:
        label = text("used_at", lang, time=page.used_at)
    else:
        label = text(page.state, lang, start=page.start, end=page.end)
    kind = "good" if page.state == "usable" else "bad"
    left = ""
    if page.state == "usable" and page.uses_left is not None:
        which = "use_left" if page.uses_left == 1 else "uses_left"
        left = f" · {text(which, lang, n=page.uses_left)}"
    return f'<p class="state {kind}">{escape(label + left)}</p>'


def _onsite_form(page: CouponPage) -> str:
    lang = page.language
    return (
        f'<form method="post" action="/c/{_attr(page.token)}/use?lang={lang}">'
        f"<h2>{escape(text('onsite', lang))}</h2>"
        f'<p class="help" id="onsite-help">{escape(text("onsite_help", lang))}</p>'
        f'<label for="onsitePwd">{escape(text("password", lang))}</label>'
        '<input id="onsitePwd" name="onsitePwd" type="password" required maxlength="100"'
        ' autocomplete="off" inputmode="text" aria-describedby="onsite-help">'
        f'<input type="hidden" name="nonce" value="{_attr(page.nonce)}">'
        f'<button class="button" type="submit">{escape(text("use", lang))}</button>'
        "</form>"
    )


def message_page(language: str, nonce: str, title: str, body: str) -> str:
    """A page with a title and one paragraph (not found, an error)."""
    content = f'<article class="card"><div class="head"><h1>{escape(title)}</h1><p>{escape(body)}</p></div></article>'
    return _document(language, title, nonce, content, ".card{--bg:#FFFFFF;--fg:#1A1A1A}")
