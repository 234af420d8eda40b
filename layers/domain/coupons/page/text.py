"""Every word the coupon page shows, in every supported language (messages.py holds the API's;
a refused on-site use shows the API's message for its code)."""

from typing import Final

# name: (English, Korean)
TEXT: Final[dict[str, tuple[str, str]]] = {
    "title": ("Coupon", "쿠폰"),
    "code": ("Coupon code", "쿠폰 번호"),
    "qr": ("QR code of the coupon code, for the shop's scanner", "매장 스캐너용 쿠폰 번호 QR 코드"),
    "valid": ("Valid {start} \u2013 {end}", "사용 기간 {start} ~ {end}"),
    "usable": ("Ready to use", "사용 가능"),
    "not_yet": ("Not valid yet: from {start}", "아직 사용할 수 없습니다: {start}부터"),
    "expired": ("Expired on {end}", "{end}에 만료되었습니다"),
    "used_up": ("Used", "사용 완료"),
    "used_at": ("Used on {time}", "{time}에 사용됨"),
    "disabled": ("No longer valid", "사용이 중지된 쿠폰입니다"),
    "go": ("Go to Use Coupon", "쿠폰 사용하러 가기"),
    "description": ("Details", "상세 정보"),
    "usage": ("How to use", "사용 방법"),
    "precautions": ("Please note", "유의 사항"),
    "onsite": ("In-store use", "매장 사용"),
    "onsite_help": (
        "Staff: enter the shop's on-site password, then press Use Coupon. It counts one use.",
        "직원 확인: 매장 비밀번호를 입력한 뒤 쿠폰 사용을 누르세요. 사용 1회가 차감됩니다.",
    ),
    "password": ("On-site password", "매장 비밀번호"),
    "use": ("Use Coupon", "쿠폰 사용"),
    "not_onsite": (
        "This coupon can't be used here: it is not an in-store coupon, or not usable now.",
        "여기에서 사용할 수 없는 쿠폰입니다. 매장용 쿠폰이 아니거나 지금은 사용할 수 없습니다.",
    ),
    "just_used": ("Coupon used on {time}.", "{time}에 쿠폰을 사용했습니다."),
    "uses_left": ("{n} uses left", "남은 사용 횟수 {n}회"),
    "use_left": ("{n} use left", "남은 사용 횟수 {n}회"),
    "bad_form": (
        "The form could not be read. Please open the coupon again and retry.",
        "입력 내용을 읽을 수 없습니다. 쿠폰을 다시 열고 다시 시도해 주세요.",
    ),
    "not_found_title": ("Coupon not found", "쿠폰을 찾을 수 없습니다"),
    "not_found": (
        "This coupon link is not valid, or the coupon no longer exists.",
        "쿠폰 링크가 올바르지 않거나 더 이상 존재하지 않는 쿠폰입니다.",
    ),
    "error_title": ("Something went wrong", "문제가 발생했습니다"),
    "error": (
        "The coupon could not be shown. Please try again in a moment. ({request_id})",
        "쿠폰을 표시할 수 없습니다. 잠시 후 다시 시도해 주세요. ({request_id})",
    ),
    "language": ("한국어", "English"),
}


def text(name: str, language: str, **params: object) -> str:
    english, korean = TEXT[name]
    chosen = korean if language == "ko" else english
    return chosen.format(**params) if params else chosen
