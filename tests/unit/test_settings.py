"""Settings are read and checked once per container, at INIT: a function deployed without its
table, or with a time zone that is not an IANA name, fails its cold start saying why, instead
of answering 500 to its first request."""

import os
import subprocess
import sys

import pytest

from coupons import containers, settings
from devstack.template import REPO_ROOT, function_environment, routes
from tests.conftest import TABLE_NAME

VALIDATE = next(r for r in routes() if r.code_dir.name == "validate")


def _cold_start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Import the validate function in a fresh interpreter, with the template's environment
    changed by `overrides` (None: unset)."""
    env = {
        **os.environ,
        **function_environment(TABLE_NAME),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "cold",
    }
    env.pop("PYTHONPATH", None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    program = (
        "import sys\n"
        f"sys.path[:0] = {[str(REPO_ROOT / 'layers' / 'domain'), str(VALIDATE.code_dir)]!r}\n"
        "import app\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program], check=False, env=env, capture_output=True, text=True
    )


def test_a_function_with_its_settings_starts() -> None:
    started = _cold_start()
    assert started.returncode == 0, started.stderr


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"TABLE_NAME": None}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": ""}, "TABLE_NAME is not set"),
        ({"TIME_ZONE": "KST"}, "TIME_ZONE 'KST' is not an IANA time zone name"),
        ({"TIME_ZONE": "../../etc/passwd"}, "is not an IANA time zone name"),
    ],
)
def test_a_function_without_a_good_setting_fails_its_cold_start(
    overrides: dict[str, str | None], says: str
) -> None:
    started = _cold_start(**overrides)
    assert started.returncode != 0
    assert "SettingsError" in started.stderr and says in started.stderr


def test_settings_are_read_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    containers.reset()
    first = settings.current()
    monkeypatch.setenv("TIME_ZONE", "Asia/Seoul")
    assert settings.current() is first  # a warm container keeps what it read at INIT
    containers.reset()  # a new container reads the environment again
    assert str(settings.current().time_zone) == "Asia/Seoul"
    monkeypatch.undo()
    containers.reset()
