"""One HTTP request with the standard library: what the integration tests and ``make smoke``
send to the API (a local gateway or a deployed stack).

Every HTTP status is an answer (urllib's ``HTTPError`` for 4xx/5xx is turned back into one);
only a request that got no answer at all raises :class:`Unreachable`.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
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

    ``sent`` is False when the request certainly never reached the server (it could not
    connect), True when it may have (the answer was lost).
    """

    def __init__(self, url: str, reason: str, *, sent: bool) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.sent = sent


def _never_sent(reason: object) -> bool:
    return isinstance(
        reason, ConnectionRefusedError | socket.gaierror | ssl.SSLError | ssl.CertificateError
    )


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
        with urllib.request.urlopen(prepared, timeout=timeout) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers), error.read())
    except urllib.error.URLError as error:
        reason = error.reason
        raise Unreachable(url, _describe(reason), sent=not _never_sent(reason)) from error
    except TimeoutError as error:
        raise Unreachable(url, f"no answer within {timeout:g} s", sent=True) from error
    except (OSError, http.client.HTTPException) as error:  # reset, closed, cut short
        raise Unreachable(url, _describe(error), sent=True) from error
