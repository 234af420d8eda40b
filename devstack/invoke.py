"""``make invoke FN=<function> EVENT=events/<file>.json``: what ``sam local invoke`` does, without
Docker.

Run from the repository root: ``python -m devstack.invoke FUNCTION EVENT_FILE [--key KEY]``.

``FUNCTION`` is a function's logical id in ``template.yaml`` (``CreateFunction``) or its folder
under ``functions/`` (``create``). Its handler (the template's ``CodeUri`` and ``Handler``) is
loaded with the template's environment, pointed at the dev store that ``make dev`` runs
(DynamoDB Local on ``DYNAMODB_PORT``, default 8000, table ``coupons-dev``), and invoked once
with the event and a Lambda-like context. As with SAM, the response object
(``{statusCode, headers, body}``) is printed on stdout as one line of JSON; the function's logs
and the START/END/REPORT lines go to stderr.

The events in ``events/`` carry a placeholder API key. Unless ``--key`` (or ``KEY``) names
the key to send, that placeholder is replaced by the dev account's key: the one ``make dev``
keeps in ``$DEV_DATA_DIR/dev-api-key`` (its ``DEV_API_KEY`` once it has used it; a
``DEV_API_KEY`` of this shell is not read, as the running ``make dev`` may never have used
it); stderr says so in one line.

Exit status: 0 once the handler returned, 1 if it raised or on an error before it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from devstack.admin import DEV_DYNAMODB_PORT
from devstack.serve import (
    DATA_DIR,
    KEY_FILE,
    _env_port,
    apply_environment,
    handler_environment,
    kept_api_key,
    shown,
)
from devstack.template import Route, routes

DYNAMODB_HOST = "127.0.0.1"  # where make dev's store listens (devstack.dynamodb_local)
CONNECT_TIMEOUT_S = 1.0
# The key the files in events/ carry (README: `DEV_API_KEY=<it> make dev` for sam local invoke).
PLACEHOLDER_KEY = "sam-local-dev-key-change-me-0123456789abcdef"


class InvokeError(Exception):
    """Anything that stops the invocation before the handler runs: one line for the user."""


def functions() -> dict[str, Route]:
    """One route per function (its first), by logical id, in template order."""
    found: dict[str, Route] = {}
    for route in routes():
        found.setdefault(route.function_logical_id, route)
    return found


def find_function(name: str) -> Route:
    """The function named by its logical id or its folder (``functions/<folder>`` too)."""
    wanted = name.strip().rstrip("/").removeprefix("functions/").lower()
    for logical_id, route in functions().items():
        if wanted and wanted in (logical_id.lower(), route.code_dir.name.lower()):
            return route
    valid = ", ".join(f"{lid} ({r.code_dir.name})" for lid, r in functions().items())
    raise InvokeError(f"unknown function {name!r}; one of: {valid}")


def route_mismatch(route: Route, event: dict[str, Any]) -> str | None:
    """A warning when the event was made for another function's route (SAM does not check)."""
    sent = event.get("routeKey")
    if not isinstance(sent, str):
        return None
    served = [r.route_key for r in routes() if r.function_logical_id == route.function_logical_id]
    if sent in served:
        return None
    owner = next((r.function_logical_id for r in routes() if r.route_key == sent), None)
    return (
        f"note: the event's routeKey {sent!r} is {owner or 'no function'}'s, "
        f"not {route.function_logical_id}'s ({', '.join(served)}); invoking it anyway"
    )


def read_event(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvokeError(f"event file {path} not found (see events/)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvokeError(f"cannot read event file {path}: {error}") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvokeError(f"event file {path} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise InvokeError(f"event file {path} is not a JSON object")
    return event


def check_store(port: int) -> str:
    """The dev store's endpoint, once something answers a TCP connect there."""
    try:
        with socket.create_connection((DYNAMODB_HOST, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError:
        raise InvokeError(
            f"no dev store on {DYNAMODB_HOST}:{port}: start `make dev` first (or set DYNAMODB_PORT)"
        ) from None
    return f"http://{DYNAMODB_HOST}:{port}"


def dev_key(data_dir: Path) -> tuple[str, str] | None:
    """The dev account's key, the one ``make dev`` keeps in ``data_dir`` (it writes
    ``DEV_API_KEY`` there when it uses it), and where it came from; None before the first
    ``make dev``."""
    key = kept_api_key(data_dir)
    return (key, shown(data_dir / KEY_FILE)) if key else None


def set_key(event: dict[str, Any], explicit: str | None, data_dir: Path) -> str | None:
    """Put the API key to use into the event's Authorization header; what to tell the user.

    ``explicit`` (--key, KEY) is always sent. Otherwise only the events' placeholder key is
    replaced, by the dev account's: a key someone wrote into their own event is kept."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        headers = event["headers"] = {}
    name = next((h for h in headers if str(h).lower() == "authorization"), "authorization")
    if explicit is not None:
        headers[name] = f"APIKey {explicit}"
        return "Authorization: the key given by --key or KEY"
    if headers.get(name) != f"APIKey {PLACEHOLDER_KEY}":
        return None  # no key, or a key of the event's own: sent as it is
    found = dev_key(data_dir)
    if found is None:
        return (
            f"Authorization: kept the event's placeholder key (no {shown(data_dir / KEY_FILE)}: "
            "run `make dev` once, or pass --key)"
        )
    key, source = found
    headers[name] = f"APIKey {key}"
    return f"Authorization: the dev account's key from {source} instead of the event's placeholder"


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Whatever the function prints (powertools logs, EMF metrics) goes to stderr, at the
    file descriptor level, so that stdout carries only the response."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _max_memory_mb() -> int:
    import resource  # Unix only, like make dev

    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss / (1024 * 1024 if sys.platform == "darwin" else 1024))


def invoke(route: Route, event: dict[str, Any], endpoint: str) -> tuple[Any, bool]:
    """Run the handler once; ``(response, raised)``. Lambda's log lines go to stderr."""
    apply_environment(handler_environment(endpoint))
    os.environ.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": route.function_logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(route.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(route.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
    )
    from devstack.gateway import Gateway, LambdaContext

    gateway = Gateway([route], quiet=True)
    context = LambdaContext(route)
    request_id = context.aws_request_id
    log = sys.stderr
    with stdout_to_stderr():
        started = time.monotonic()
        try:
            handler = gateway.handler_for(route)
        except Exception as error:
            traceback.print_exc()
            return _error_response(error, request_id), True
        init_ms = (time.monotonic() - started) * 1000
        print(f"START RequestId: {request_id} Version: $LATEST", file=log, flush=True)
        started = time.monotonic()
        raised = False
        try:
            response = handler(event, context)
        except Exception as error:
            traceback.print_exc()
            response, raised = _error_response(error, request_id), True
        ms = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id}", file=log)
        print(
            f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\t"
            f"Memory Size: {route.memory_size} MB\tMax Memory Used: {_max_memory_mb()} MB\t"
            f"Init Duration: {init_ms:.2f} ms",
            file=log,
            flush=True,
        )
    return response, raised


def _error_response(error: Exception, request_id: str) -> dict[str, Any]:
    """What Lambda answers for an unhandled exception (and SAM prints)."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (usage: {self.prog} FUNCTION EVENT_FILE)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="invoke",
        description="Invoke one function's handler with an event file on make dev's store.",
    )
    parser.add_argument("function", help="logical id (CreateFunction) or folder (create)")
    parser.add_argument("event", type=Path, help="an API Gateway HTTP API v2 event (events/)")
    parser.add_argument("--key", help="the API key to send (default: KEY, else the dev key)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    explicit = args.key if args.key is not None else os.environ.get("KEY") or None
    try:
        route = find_function(args.function)
        event = read_event(args.event)
        # SystemExit with one line if DYNAMODB_PORT is not a port, as make dev says it.
        endpoint = check_store(_env_port("DYNAMODB_PORT", DEV_DYNAMODB_PORT))
    except InvokeError as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 1
    for note in (
        route_mismatch(route, event),
        set_key(event, explicit.strip() if explicit else None, DATA_DIR),
    ):
        if note:
            print(f"invoke: {note}", file=sys.stderr)
    response, raised = invoke(route, event, endpoint)
    print(json.dumps(response), flush=True)
    return 1 if raised else 0


if __name__ == "__main__":
    sys.exit(main())
