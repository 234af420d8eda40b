"""A local HTTP API gateway, like ``sam local start-api`` but without Docker.

Routes come from ``template.yaml``; each request becomes an API Gateway HTTP API payload
format 2.0 event for the matching function's handler. Requests are served by a
``ThreadingHTTPServer``, so concurrent requests (even to one route) run in parallel threads, as
separate Lambda execution environments would: races stay real locally.

Differences from AWS to keep in mind: all functions share one process, so module-level state
is shared between concurrent invocations of the same function (boto3 *clients* are
thread-safe; sessions and resources are not), and the function timeout is not enforced.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack import template
from devstack.template import Route, RouteMatch, RouteTable

ACCOUNT_ID = "123456789012"
API_ID = "devstack01"
REGION = "us-east-1"
MAX_BODY = 1024 * 1024  # API Gateway allows 10 MB; the functions themselves enforce 16 KB
INTERNAL_ERROR = {"code": 5000, "message": "Internal error", "result": None}
_STATUS_CODES = range(100, 600)  # the statusCode values API Gateway accepts
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools use."""

    def __init__(self, route: Route, request_id: str | None = None) -> None:
        now = datetime.now(UTC)
        self.function_name = route.function_logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{route.function_logical_id}"
        )
        # The Python runtime takes this from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
        self.memory_limit_in_mb = str(route.memory_size)
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{route.function_logical_id}"
        self.log_stream_name = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + route.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _clf_time(now: datetime) -> str:
    """``22/Nov/2026:02:55:55 +0000`` (API Gateway's requestContext.time), locale-independent."""
    return f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"


def build_event(  # noqa: PLR0913  keyword-only, one per field of the request it describes
    *,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event for one request.

    ``target`` is the request target as sent (``/path?query``); ``headers`` in arrival order;
    ``path_parameters`` those of a templated route (``{"token": ...}``, as matched: see
    ``RouteTable``), decoded as API Gateway passes them; absent when there are none.
    """
    now = now or datetime.now(UTC)
    if target.startswith(("http://", "https://")):  # absolute-form request target
        parts = urlsplit(target)
        raw_path, raw_query = parts.path or "/", parts.query
    else:
        raw_path, _, raw_query = target.partition("?")
        raw_path = raw_path.partition("#")[0] or "/"

    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":  # format 2.0 moves cookies to their own field
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    try:
        authority = urlsplit("//" + merged.get("host", "localhost"))
        domain_name, port = authority.hostname or "localhost", authority.port or 80
    except ValueError:
        domain_name, port = "localhost", 80
    forwarded = merged.get("x-forwarded-for")
    merged["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    merged.setdefault("x-forwarded-port", str(port))
    merged.setdefault("x-forwarded-proto", "http")

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value

    request_id = request_id or str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    if query:
        event["queryStringParameters"] = query
    event.update(_path_parameters(path_parameters))
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method.upper(),
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": _clf_time(now),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    is_base64 = False
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            is_base64 = True
    event["isBase64Encoded"] = is_base64
    return event


def _path_parameters(matched: dict[str, str] | None) -> dict[str, Any]:
    """The event's ``pathParameters`` (decoded, as API Gateway passes them), or nothing."""
    if not matched:
        return {}
    return {"pathParameters": {name: unquote(value) for name, value in matched.items()}}


class HttpResponse:
    """A handler result mapped to HTTP: status, header pairs (repeatable) and body bytes."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @classmethod
    def internal_error(cls) -> HttpResponse:
        body = json.dumps(INTERNAL_ERROR).encode()
        return cls(500, [("Content-Type", "application/json")], body)

    @classmethod
    def from_result(cls, result: Any) -> HttpResponse:
        """Map a format 2.0 handler result as API Gateway does (raises ValueError if malformed)."""
        if not (isinstance(result, dict) and "statusCode" in result):
            # No statusCode: API Gateway treats the whole result as a JSON body with status 200.
            body = json.dumps(result).encode()
            return cls(200, [("Content-Type", "application/json")], body)
        status = result["statusCode"]
        if isinstance(status, bool) or not isinstance(status, int) or status not in _STATUS_CODES:
            raise ValueError(f"invalid statusCode {status!r}")
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((str(name), _header_value(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), _header_value(v)) for v in values)
        headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
        raw = result.get("body")
        if raw is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(str(raw), validate=True)
        else:
            body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
        return cls(status, headers, body)


def _header_value(value: Any) -> str:
    text = "true" if value is True else "false" if value is False else str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("header value contains a line break")
    return text


class _LoadedFunction:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handler: Handler | None = None


def _module_file(route: Route) -> tuple[str, str, Path]:
    module, _, attribute = route.handler.rpartition(".")
    if not module or not attribute:
        raise ValueError(f"{route.function_logical_id}: bad Handler {route.handler!r}")
    return module, attribute, route.code_dir / (module.replace(".", "/") + ".py")


class Gateway:
    """Routes HTTP requests to function handlers; see the module docstring."""

    def __init__(
        self,
        routes: Sequence[Route] | None = None,
        *,
        serialize: bool = False,
        quiet: bool = False,
        max_body: int = MAX_BODY,
    ) -> None:
        self.routes = list(template.routes() if routes is None else routes)
        self.serialize = serialize
        self.quiet = quiet
        self.max_body = max_body
        self._invoke_lock = threading.Lock()
        self._loaded: dict[tuple[Path, str], _LoadedFunction] = {}
        self._loaded_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Exact paths, then templated ones (/c/{token}), then $default; within each the exact
        # method before ANY (API Gateway prefers the more specific route).
        self._table = RouteTable(self.routes)

    # -- routing and invocation ------------------------------------------------------------

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route for ``method path`` with its path parameters (``RouteTable.resolve``)."""
        return self._table.resolve(method, path)

    def resolve(self, method: str, path: str) -> Route | None:
        """The route for ``method path``: see :meth:`match`."""
        found = self.match(method, path)
        return None if found is None else found.route

    def handler_for(self, route: Route) -> Handler:
        """Load ``route``'s handler once (thread-safe); a failed load is retried next time."""
        key = (route.code_dir, route.handler)
        with self._loaded_lock:
            loaded = self._loaded.setdefault(key, _LoadedFunction())
        if loaded.handler is not None:
            return loaded.handler
        with loaded.lock:
            if loaded.handler is None:
                loaded.handler = self._load(route)
            return loaded.handler

    @staticmethod
    def _load(route: Route) -> Handler:
        module_name, attribute, path = _module_file(route)
        # Every function's file is app.py: give each a unique module name.
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
        safe = re.sub(r"\W", "_", f"{route.function_logical_id}_{module_name}")
        unique = f"_devstack_fn_{safe}_{digest}"
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise ImportError(f"{path} has no callable {attribute!r}")
        return cast(Handler, handler)

    def invoke(self, route: Route, event: dict[str, Any]) -> Any:
        """Call ``route``'s handler with ``event`` and a fresh context (serialized if asked)."""
        handler = self.handler_for(route)
        context = LambdaContext(route, event.get("requestContext", {}).get("requestId"))
        lock = self._invoke_lock if self.serialize else contextlib.nullcontext()
        with lock:
            return handler(event, context)

    def respond(
        self,
        *,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
    ) -> tuple[HttpResponse, Route | None]:
        """Build the event, invoke the function and map its result; never raises."""
        path = target.partition("?")[0].partition("#")[0]
        found = self.match(method, path)
        request_id = str(uuid.uuid4())
        if found is None:
            not_found = json.dumps({"message": "Not Found"}).encode()
            return HttpResponse(404, [("Content-Type", "application/json")], not_found), None
        route = found.route
        try:
            event = build_event(
                request_id=request_id,
                method=method,
                target=target,
                headers=headers,
                body=body,
                route_key=route.route_key,
                path_parameters=found.path_parameters,
                source_ip=source_ip,
                protocol=protocol,
            )
            response = HttpResponse.from_result(self.invoke(route, event))
        except Exception:
            print(
                f"devstack gateway: {route.function_logical_id} failed on {method} {path}",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            response = HttpResponse.internal_error()
        response.headers.append(("Apigw-Requestid", request_id))
        return response, route

    # -- HTTP server -----------------------------------------------------------------------

    def serve(self, port: int = 3000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
        """Bind the server (port 0 picks a free port); the caller runs ``serve_forever()``."""
        server = _Server((host, port), _make_request_handler(self))
        self._server = server
        return server

    def start_in_thread(self, port: int = 0, host: str = "127.0.0.1") -> tuple[Any, str]:
        """Serve from a daemon thread; returns ``(server, "http://127.0.0.1:PORT")``."""
        server = self.serve(port, host)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick shutdown()
            name="devstack-gateway",
            daemon=True,
        )
        self._thread.start()
        return server, f"http://{host}:{server.server_address[1]}"

    def shutdown(self) -> None:
        """Stop serving (if started with :meth:`start_in_thread`) and close the socket."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None:
            return
        if thread is not None:
            server.shutdown()
            thread.join(timeout=10)
        server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _RequestHandler(BaseHTTPRequestHandler):
    """Serves one connection's requests through ``gateway``, set by ``_make_request_handler``."""

    protocol_version = "HTTP/1.1"
    gateway: Gateway

    def version_string(self) -> str:
        return "devstack-gateway"

    def _dispatch(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        if body is None:
            return
        response, route = self.gateway.respond(
            method=self.command,
            target=self.path,
            headers=self.headers.items(),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        self._send(response)
        if not self.gateway.quiet:
            name = route.function_logical_id if route else "-"
            ms = (time.monotonic() - started) * 1000
            sys.stderr.write(
                f"{self.command} {self.path} -> {name} {response.status} {ms:.0f} ms\n"
            )

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self._error(400, "Bad Request")
            return None
        if length > self.gateway.max_body:
            self._error(413, "Request Entity Too Large")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._error(400, "Bad Request")
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > self.gateway.max_body:
                self._error(413, "Request Entity Too Large")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True  # the unread body must not be parsed as a request
        self._send(
            HttpResponse(
                status,
                [("Content-Type", "application/json"), ("Connection", "close")],
                json.dumps({"message": message}).encode(),
            )
        )

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch writes one line per request

    def log_message(self, format: str, *args: Any) -> None:
        if not self.gateway.quiet:
            super().log_message(format, *args)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


def _make_request_handler(gateway: Gateway) -> type[_RequestHandler]:
    class RequestHandler(_RequestHandler):
        pass

    RequestHandler.gateway = gateway
    return RequestHandler


def serve(port: int = 3000, *, serialize: bool = False, quiet: bool = False) -> ThreadingHTTPServer:
    """A bound gateway server for the template's routes; the caller runs ``serve_forever()``."""
    return Gateway(serialize=serialize, quiet=quiet).serve(port)
