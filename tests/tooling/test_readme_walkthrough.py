"""The README's walk-through, run as pasted against a fresh `make dev`: every `# ...` line right
under a command is what that command must print, so the walk-through cannot drift from the API.

In an expected line, `...` stands for anything; ids, codes, dates and cursors are compared by
their shape (a redemption id is 24 hex digits, a bulk code 12 capitals or digits), since each run
makes new ones."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from devstack.template import REPO_ROOT
from tests.tooling.conftest import start_dev_stack, stop_dev_stack

pytestmark = pytest.mark.integration

MARK = "@@walk-through {}@@"
# Values that differ on every run, compared by shape.
SHAPES = [
    (re.compile(r"\b[0-9a-f]{24}\b"), "<rdmId>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?\b"), "<date>"),
    (re.compile(r'"[0-9A-Z]{12}"'), '"<code>"'),
]


def walk_through() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Walk-through\n", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the walk-through has no ```sh block"
    return match.group(1)


def split_expectations(script: str) -> tuple[str, list[str]]:
    """The script with each block of expected output replaced by a marker, and those blocks.

    Expected output is the run of comment lines right under a command; a comment after a blank
    line (or after another comment that is not output) explains the next command."""
    lines: list[str] = []
    expected: list[list[str]] = []
    in_output = False
    for line in script.splitlines():
        command_above = bool(lines) and bool(lines[-1].strip()) and not lines[-1].startswith("#")
        if line.startswith("# ") and (in_output or command_above):
            if not in_output:
                expected.append([])
                lines.append(f"printf '\\n{MARK.format(len(expected))}\\n'")
            expected[-1].append(line[2:])
            in_output = True
        else:
            lines.append(line)
            in_output = False
    return "\n".join(lines) + "\n", ["\n".join(block) for block in expected]


def shape(text: str) -> str:
    for pattern, placeholder in SHAPES:
        text = pattern.sub(placeholder, text)
    return text


def matches(expected: str, printed: str) -> bool:
    printed = "\n".join(line.rstrip("\r") for line in printed.splitlines())  # curl -i: CRLF
    pattern = ".*".join(re.escape(part) for part in shape(expected).split("..."))
    return re.fullmatch(pattern, shape(printed), re.DOTALL) is not None


def test_split_expectations_takes_only_the_lines_under_a_command() -> None:
    script, expected = split_expectations(
        "# explains\necho a\n# a\n# b\n\n# explains too\necho c\n# c\n"
    )
    assert expected == ["a\nb", "c"]
    assert "# explains\n" in script and "# explains too\n" in script
    assert not matches('{...,"a":1}', '{"b":2,"a":2}')
    assert matches(
        '{"rdmId":"01a2013a7b53ff9d63c5581c",...}', '{"rdmId":"0123456789abcdef01234567","x":1}'
    )


def test_the_walk_through_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """Twice on one stack, as a reader may run it again: from a machine far east of make dev's
    UTC (a day ahead for most of the day), then from one far west of it."""
    script, expected = split_expectations(walk_through())
    assert len(expected) >= 10, "the walk-through shows fewer answers than it should"
    stack = start_dev_stack(tmp_path)
    try:
        script = script.replace("127.0.0.1:3000", f"127.0.0.1:{stack.port}")
        runs = [
            subprocess.run(
                ["bash", "-c", script],
                check=False,
                cwd=stack.folder,
                env={**os.environ, "TZ": zone},
                capture_output=True,
                text=True,
                timeout=120,
            )
            for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        ]
    finally:
        rest = stop_dev_stack(stack)
    assert "Traceback" not in rest
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        printed = run.stdout
        for number, line in enumerate(expected, start=1):
            mark = MARK.format(number)
            assert mark in printed, f"the walk-through stopped before answer {number}: {printed!r}"
            answer, printed = printed.split(f"\n{mark}\n", 1)
            assert matches(line, answer.strip()), (
                f"answer {number}:\n  README: {line}\n  printed: {answer.strip()}"
            )
