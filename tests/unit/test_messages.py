"""The error table, the field errors' reasons and language choice."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from string import Formatter

import pytest

import coupons
from coupons.errors import ErrorCode, Reason
from coupons.messages import CATALOG, REASONS, http_status, message, pick_language, reason_text
from devstack.samples import coupon_fields
from tests.conftest import Api


def test_every_code_has_a_status_and_both_languages() -> None:
    assert set(CATALOG) == set(ErrorCode)
    for code in ErrorCode:
        if code != ErrorCode.OK:
            # The contract's codes extend the HTTP status by one digit; 422's run on past
            # 4229 (DESIGN 2.1: 4231, coupon disabled).
            expected = 422 if 4220 <= code < 4290 else int(code) // 10
            assert http_status(code) == expected
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


# --- field errors' reasons (errors[].message) ------------------------------------------------

LAYER = Path(coupons.__file__).parent
# Where a reason is raised: the callable, and the position of its Reason argument.
RAISERS = {
    "invalid_field": 1,
    "FieldError": 1,
    "Invalid": 0,
    "_too_large": 1,
    "Shape": 1,
    "_shaped": 1,
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def test_every_reason_has_both_languages_with_the_same_parameters() -> None:
    assert set(REASONS) == set(Reason)
    for why, (english, korean) in REASONS.items():
        assert english and korean and english != korean, why
        assert re.search("[가-힣]", korean), why
        assert _placeholders(english) == _placeholders(korean), why
        params = dict.fromkeys(_placeholders(english), 7)
        assert "{" not in reason_text(why, "ko", params) + reason_text(why, "en", params)


def _calls(tree: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            yield name, node


def test_every_reason_raised_in_the_layer_is_in_the_catalog() -> None:
    """Every `Reason.X` the layer names exists and has its texts; every raiser is given a
    Reason (never a text) and the parameters its texts use; and every text is used."""
    used: set[str] = set()
    for path in sorted(LAYER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Reason"
            ):
                assert node.attr in Reason.__members__, (path.name, node.attr)
                used.add(node.attr)
        for name, call in _calls(tree):
            position = RAISERS.get(name)
            if position is None or len(call.args) <= position:
                continue
            given = call.args[position]
            where = f"{path.name}:{call.lineno}"
            assert not isinstance(given, ast.Constant | ast.JoinedStr | ast.BinOp), where
            if isinstance(given, ast.Attribute) and given.attr in Reason.__members__:
                keywords = {k.arg for k in call.keywords if k.arg}
                if not any(k.arg is None for k in call.keywords):  # no **params
                    assert keywords == _placeholders(REASONS[Reason[given.attr]][0]), where
    assert used == set(Reason.__members__)


def test_a_field_error_is_answered_in_the_request_language(api: Api) -> None:
    body = coupon_fields(nm="", disc="5", useLimit=9, webhookEnablYn="maybe", userPhone="x" * 31)
    del body["strtYmd"]
    english = api.call("POST", "/create", body=body)
    korean = Api(api.api_key, language="ko-KR,ko;q=0.9").call("POST", "/create", body=body)
    fields = ["nm", "disc", "strtYmd", "useLimit", "webhookEnableYn", "userPhnno"]
    assert english.code == korean.code == 4001
    assert english.body["message"] == f"Invalid field: {', '.join(fields)}."
    assert korean.body["message"] == f"잘못된 필드: {', '.join(fields)}."
    assert english.body["errors"] == [
        {"field": "nm", "message": "must not be empty"},
        {"field": "disc", "message": "must be a number"},
        {"field": "strtYmd", "message": "is required"},
        {"field": "useLimit", "message": "must be from 0 to 5"},
        {"field": "webhookEnableYn", "message": "must be one of Y, N"},
        {"field": "userPhnno", "message": "must be at most 30 characters"},
    ]
    assert korean.body["errors"] == [
        {"field": "nm", "message": "비어 있을 수 없습니다."},
        {"field": "disc", "message": "숫자여야 합니다."},
        {"field": "strtYmd", "message": "필수 항목입니다."},
        {"field": "useLimit", "message": "0 이상 5 이하여야 합니다."},
        {"field": "webhookEnableYn", "message": "Y, N 중 하나여야 합니다."},
        {"field": "userPhnno", "message": "30자 이하여야 합니다."},
    ]


def test_rule_and_query_errors_are_answered_in_the_request_language(api: Api) -> None:
    korean = Api(api.api_key, language="ko")
    percent = coupon_fields(discTypeIdx=457, disc=150)
    assert korean.call("POST", "/create", body=percent).body["errors"] == [
        {"field": "disc", "message": "정률 쿠폰(457)은 1에서 100 사이여야 합니다."}
    ]
    assert api.call("POST", "/create", body=percent).body["errors"] == [
        {"field": "disc", "message": "must be between 1 and 100 for a percent coupon (457)"}
    ]
    assert korean.list(limit="0").body["errors"] == [
        {"field": "limit", "message": "1 이상 100 이하의 정수여야 합니다."}
    ]
    assert korean.validate("short").body["errors"] == [
        {"field": "cpnNo", "message": "8~16자의 영문자 또는 숫자여야 합니다."}
    ]
    assert api.list(limit="0").body["errors"] == [
        {"field": "limit", "message": "must be a whole number from 1 to 100"}
    ]
