"""One delivery attempt of a webhook (DESIGN 2.9): the exact signed bytes POSTed to the checked
address, 5 s to answer, no redirect followed, at most a few KB of the answer read. It says what
happened; the caller decides whether to try again (retry_delay)."""

import contextlib
import http.client
import random
import socket
import ssl
import threading
from dataclasses import dataclass

from coupons.webhooks.signing import signature
from coupons.webhooks.targets import Target

TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 4096
USER_AGENT = "coupon-api-webhooks/1"
# Retries: exponential from 30 s, doubling, each at most 6 h, with jitter; the last attempt is
# at least 24 h after the first (DESIGN 2.9), then the delivery is kept as failed.
FIRST_DELAY_S = 30
MAX_DELAY_S = 6 * 3600
ATTEMPTS = 15


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None  # the receiver's HTTP status; None: no answer (refused, timed out)
    error: str  # "" when ok: why not, in a few words (never the answer's body)


def send(target: Target, event_id: str, body: bytes, secret: str, *, now: int) -> Attempt:
    """POST `body` to `target` with its event id and signature. The whole exchange has
    TIMEOUT_S, however the receiver dribbles its answer (each socket read has it too)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Coupon-Event-Id": event_id,
        "Coupon-Signature": signature(secret, now, body),
    }
    connection = _connection(target)
    outcome: list[Attempt] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_exchange(connection, target.path, headers, body)),
        name="webhook-attempt",
        daemon=True,
    )
    worker.start()
    worker.join(TIMEOUT_S)
    if not outcome:  # still talking: cut it off (its read fails, and the thread ends)
        with contextlib.suppress(OSError):
            if connection.sock is not None:
                connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        return Attempt(False, None, "timed out")
    return outcome[0]


def _exchange(
    connection: http.client.HTTPConnection, path: str, headers: dict[str, str], body: bytes
) -> Attempt:
    try:
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(MAX_ANSWER_BYTES)  # never more than a few KB of what the receiver says
        status = answer.status
    except TimeoutError:
        return Attempt(False, None, "timed out")
    except (OSError, http.client.HTTPException) as error:
        return Attempt(False, None, type(error).__name__)
    finally:
        connection.close()
    if 200 <= status < 300:  # noqa: PLR2004
        return Attempt(True, status, "")
    return Attempt(False, status, "redirect not followed" if 300 <= status < 400 else "status")  # noqa: PLR2004


def retry_delay(attempt: int, rng: random.Random | None = None) -> int:
    """Seconds to wait after failed attempt number `attempt` (1-based): 30 s doubling, at most
    6 h, with up to 10% jitter either way (so that receivers coming back are not hit at once)."""
    base = min(FIRST_DELAY_S << (attempt - 1), MAX_DELAY_S)
    spread = (rng or random).uniform(-0.1, 0.1)
    return max(1, round(base * (1 + spread)))


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the URL's name for SNI and the certificate."""

    def __init__(self, target: Target) -> None:
        super().__init__(
            target.host, target.port, timeout=TIMEOUT_S, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _connection(target: Target) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _Pinned(target)
    # http: only the dev stack's 127.0.0.1 (targets.checked refuses it otherwise).
    return http.client.HTTPConnection(target.address, target.port, timeout=TIMEOUT_S)
