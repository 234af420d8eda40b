"""The QR code of a coupon code, as inline SVG for the shop's scanner. segno is imported here
only, when a page is drawn: no other function, and no cold start, pays for it."""


def qr_svg(code: str) -> str:
    import segno

    # Level M (15% recoverable) at the smallest version that fits; the 4-module quiet zone
    # scanners need; black on white whatever the merchant's colours; sized by CSS.
    symbol = segno.make(code, error="m", micro=False, boost_error=False)
    return str(symbol.svg_inline(omitsize=True, border=4, dark="#000", light="#fff"))
