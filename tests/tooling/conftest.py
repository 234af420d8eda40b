"""Tests of the dev tooling (devstack/, openapi.yaml, pins): the gateway's tests need the
DynamoDB Local process that the integration tests start, re-exported here rather than copied.

`dev_stack` runs `make dev`'s own program (`python -m devstack.serve`) as a user would, in a
folder of its own, on free ports: what the walk-through, `make smoke` and `make invoke` tests
talk to."""

import contextlib
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


BANNER_END = "Ctrl-C to stop"
STOP_S = 30  # make dev gives DynamoDB Local 10 s, then SIGKILL and 5 s more


def _read(stream: IO[str], banner: list[str], after: list[str], ready: threading.Event) -> None:
    """Every line of make dev's output, as it comes: into `banner` up to the banner's last
    line (then `ready` is set), into `after` from then on. A pipe nobody reads fills up after
    ~64 KB and would block make dev."""
    with stream:
        for line in stream:
            (after if ready.is_set() else banner).append(line)
            if line.startswith(BANNER_END):
                ready.set()


def _gone(pids: list[int], within: float) -> list[int]:
    """Of `pids`, those still running after waiting up to `within` seconds for them to go."""
    deadline = time.monotonic() + within
    while True:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _kill_leftovers(folder: Path) -> list[int]:
    """SIGKILL whatever still names `folder` (DynamoDB Local runs in a session of its own: a
    signal to make dev does not reach it); the pids it found."""
    leftovers = processes_using(folder)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _gone(leftovers, 5)
    return leftovers


def _end(process: subprocess.Popen[str], folder: Path, signum: int) -> bool:
    """`signum` to make dev; if it has not exited within STOP_S, SIGKILL for it and then for
    anything it left running. True if it exited on `signum` alone."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)
    try:
        process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        _kill_leftovers(folder)
        return False
    return True


def start_dev_stack(folder: Path, **env: str) -> DevStack:
    """`make dev` in `folder`: returns once the banner is printed (the API answers then), or
    fails after STARTUP_S with what it printed, leaving nothing running."""
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
    banner: list[str] = []
    after: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_read, args=(process.stdout, banner, after, ready), daemon=True
    )
    reader.start()
    deadline = time.monotonic() + STARTUP_S
    # Until the banner, make dev exits (its output ends), or the deadline.
    while not ready.wait(timeout=0.2) and reader.is_alive() and time.monotonic() < deadline:
        pass
    if ready.is_set():
        return DevStack(process, folder, port, dynamodb_port, "".join(banner), after, reader)
    why = f"gave no banner within {STARTUP_S} s" if reader.is_alive() else "exited"
    _end(process, folder, signal.SIGTERM)
    reader.join(timeout=5)
    _kill_leftovers(folder)
    raise AssertionError(
        f"make dev {why} (status {process.returncode}):\n" + "".join(banner + after)
    )


def stop_dev_stack(stack: DevStack, signum: int = signal.SIGTERM) -> str:
    """SIGTERM, as a process manager stops it (or `signum`: SIGINT is Ctrl-C); returns what it
    printed after the banner. Fails, leaving nothing running, if it did not stop within STOP_S
    or left a process behind."""
    stopped = _end(stack.process, stack.folder, signum)
    stack.reader.join(timeout=5)
    printed = "".join(stack.after_banner)
    if not stopped:
        name = signal.Signals(signum).name
        raise AssertionError(f"make dev did not stop on {name} within {STOP_S} s:\n" + printed)
    leftovers = _kill_leftovers(stack.folder)  # make dev waits for DynamoDB Local to exit
    if leftovers:
        raise AssertionError(f"make dev exited but left {leftovers} running (killed):\n{printed}")
    return printed


def processes_using(folder: Path) -> list[int]:
    """The processes (this one aside) with an argument that is `folder` or a path in it
    (DynamoDB Local's -dbPath, in a dev stack's .devdata)."""
    folders = {folder, folder.resolve()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for argument in arguments:
            path = Path(os.fsdecode(argument))
            if path.is_absolute() and folders & {path, *path.parents}:
                found.append(int(entry.name))
                break
    return found


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = start_dev_stack(tmp_path_factory.mktemp("dev"))
    yield stack
    rest = stop_dev_stack(stack)
    assert stack.process.returncode == 0, rest
    assert not re.search(r"Traceback", rest), rest
