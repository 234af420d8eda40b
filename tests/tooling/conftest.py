"""Tests of the dev tooling (devstack/, openapi.yaml, pins): the gateway's tests need the
DynamoDB Local process that the integration tests start, re-exported here rather than copied.

`dev_stack` runs `make dev`'s own program (`python -m devstack.serve`) as a user would, in a
folder of its own, on free ports: what the walk-through, `make smoke` and `make invoke` tests
talk to."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from devstack.dynamodb_local import free_port
from devstack.template import REPO_ROOT
from tests.integration.conftest import local_dynamodb  # noqa: F401

STARTUP_S = 120


@dataclass(frozen=True)
class DevStack:
    process: subprocess.Popen[str]
    folder: Path  # the working folder: .devdata is in it
    port: int
    dynamodb_port: int
    banner: str
    # What it prints after the banner (a line per request), read as it comes: a pipe nobody
    # reads fills up after ~64 KB and would block the gateway.
    after_banner: list[str]
    reader: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/coupon/v1"

    @property
    def key(self) -> str:
        return (self.folder / ".devdata" / "dev-api-key").read_text(encoding="utf-8").strip()

    def environment(self) -> dict[str, str]:
        """What a shell in `folder` needs to use this stack as `make dev`'s."""
        return {
            **os.environ,
            "PORT": str(self.port),
            "DYNAMODB_PORT": str(self.dynamodb_port),
            "DEV_DATA_DIR": str(self.folder / ".devdata"),
        }


def _drain(stream: IO[str], into: list[str]) -> None:
    with stream:
        into.extend(stream)


def start_dev_stack(folder: Path, **env: str) -> DevStack:
    """`make dev` in `folder`: returns once the banner is printed (the API answers then)."""
    port, dynamodb_port = free_port(), free_port()
    environment = {
        **os.environ,
        "PORT": str(port),
        "DYNAMODB_PORT": str(dynamodb_port),
        "DEV_DATA_DIR": str(folder / ".devdata"),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    environment.pop("TABLE_NAME", None)
    environment.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.serve"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ctrl-C to stop"):
            rest: list[str] = []
            reader = threading.Thread(target=_drain, args=(process.stdout, rest), daemon=True)
            reader.start()
            return DevStack(process, folder, port, dynamodb_port, "".join(lines), rest, reader)
    process.kill()
    raise AssertionError("make dev did not come up:\n" + "".join(lines))


def stop_dev_stack(stack: DevStack, signum: int = signal.SIGTERM) -> str:
    """SIGTERM, as a process manager stops it (or `signum`: SIGINT is Ctrl-C); returns what it
    printed after the banner."""
    stack.process.send_signal(signum)
    try:
        stack.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()
        stack.reader.join(timeout=5)
        name = signal.Signals(signum).name
        raise AssertionError(
            f"make dev did not stop on {name}:\n" + "".join(stack.after_banner)
        ) from None
    stack.reader.join(timeout=5)
    return "".join(stack.after_banner)


def processes_using(folder: Path) -> list[int]:
    """The processes whose command line names `folder` (DynamoDB Local's -dbPath, in a dev
    stack's .devdata)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if str(folder) in command:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = start_dev_stack(tmp_path_factory.mktemp("dev"))
    yield stack
    rest = stop_dev_stack(stack)
    assert stack.process.returncode == 0, rest
    assert not re.search(r"Traceback", rest), rest
