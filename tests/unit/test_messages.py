"""The error table and language choice."""

import pytest

from coupons.errors import ErrorCode
from coupons.messages import CATALOG, http_status, message, pick_language


def test_every_code_has_a_status_and_both_languages() -> None:
    assert set(CATALOG) == set(ErrorCode)
    for code in ErrorCode:
        if code != ErrorCode.OK:
            # The contract's codes extend the HTTP status by one digit.
            assert http_status(code) == int(code) // 10
            assert message(code, "en", fields="x", request_id="r")
            assert message(code, "ko", fields="x", request_id="r") != message(
                code, "en", fields="x", request_id="r"
            )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("ko", "ko"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("fr-FR,ko;q=0.5", "ko"),
        ("fr", "en"),
        ("ko;q=0.2,en;q=0.7", "en"),
        ("ko;q=abc", "en"),
    ],
)
def test_language_follows_accept_language(header: str | None, language: str) -> None:
    assert pick_language(header) == language
