"""One HTTP request with the standard library: what the integration tests and ``make smoke``
send to the API (a local gateway or a deployed stack).

Every HTTP status is an answer (urllib's ``HTTPError`` for 4xx/5xx is turned back into one);
only a request that got no answer at all raises :class:`Unreachable`.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # as the server spelled the names (first value of a repeated one)
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not)."""
        return json.loads(self.body)


class Unreachable(Exception):
    """No answer: refused, unknown host, TLS failure, timeout or a dropped connection.

    ``sent`` is False when the request certainly never reached the server (it failed while
    connecting: refused, unknown host, a connect timeout, the TLS handshake), True when it
    may have (a timeout or a dropped connection once it was being sent: the answer was lost).
    """

    def __init__(self, url: str, reason: str, *, sent: bool) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.sent = sent


class _NotConnected(OSError):
    """What connecting raised (refused, unknown host, timeout, TLS handshake): nothing of the
    request was sent."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _connect(connect: Callable[[], None]) -> None:
    try:
        connect()
    except OSError as error:
        raise _NotConnected(error) from error


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        _connect(super().connect)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        _connect(super().connect)  # the TCP connection, a proxy's tunnel, the TLS handshake


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


# urlopen's opener (proxies from the environment, redirects...), whose connections say
# whether they failed before sending anything.
_opener = urllib.request.build_opener(_HTTPHandler(), _HTTPSHandler())


def _describe(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def request(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 60,
) -> Answer:
    """Send one request and return the answer, whatever its status."""
    prepared = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with _opener.open(prepared, timeout=timeout) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers), error.read())
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, _NotConnected):
            cause = reason.error
            why = (
                f"no connection within {timeout:g} s"
                if isinstance(cause, TimeoutError)
                else _describe(cause)
            )
            raise Unreachable(url, why, sent=False) from error
        # An OSError while the request was being sent (it may have arrived whole), else urllib's
        # own refusal before connecting (an unknown scheme, no host).
        raise Unreachable(url, _describe(reason), sent=isinstance(reason, OSError)) from error
    except TimeoutError as error:
        raise Unreachable(url, f"no answer within {timeout:g} s", sent=True) from error
    except (OSError, http.client.HTTPException) as error:  # reset, closed, cut short
        raise Unreachable(url, _describe(error), sent=True) from error
