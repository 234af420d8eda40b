"""devstack/http_client.py: whether a request that got no answer may have reached the server.
`make smoke` deletes the coupon after a create that may have arrived, and only then."""

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager

import pytest

from devstack import http_client
from devstack.dynamodb_local import free_port

TIMEOUT_S = 0.5


@contextmanager
def server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that hands its one connection to `handle`; its URL."""
    with closing(socket.create_server(("127.0.0.1", 0))) as listening:
        port = listening.getsockname()[1]

        def serve() -> None:
            connection, _ = listening.accept()
            with connection:
                handle(connection)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{port}/api/coupon/v1/create"
        thread.join(timeout=5)


def read_request(connection: socket.socket) -> bytes:
    """The request's head and body (a Content-Length body, as create sends)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def create(url: str) -> http_client.Unreachable:
    with pytest.raises(http_client.Unreachable) as caught:
        http_client.request(url, method="POST", body=b'{"cpnNo":"X"}', timeout=TIMEOUT_S)
    return caught.value


def test_connection_refused_was_not_sent() -> None:
    refused = create(f"http://127.0.0.1:{free_port()}/create")
    assert (refused.sent, refused.reason) == (False, "Connection refused")


def test_a_connect_timeout_was_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that never completes the TCP handshake (as an address nothing routes to)."""

    def no_handshake(*args: object, **kwargs: object) -> socket.socket:
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", no_handshake)
    timed_out = create("http://127.0.0.1:9/create")
    assert (timed_out.sent, timed_out.reason) == (False, f"no connection within {TIMEOUT_S} s")


def test_an_unknown_host_was_not_sent() -> None:
    unknown = create("http://no-such-host.invalid/create")
    assert unknown.sent is False


def test_no_answer_after_the_request_was_sent_may_have_been_sent() -> None:
    received: list[bytes] = []
    answered = threading.Event()

    def read_then_stay_silent(connection: socket.socket) -> None:
        received.append(read_request(connection))
        answered.wait(timeout=5)  # no answer until the client gave up

    with server(read_then_stay_silent) as url:
        timed_out = create(url)
        answered.set()
    assert (timed_out.sent, timed_out.reason) == (True, f"no answer within {TIMEOUT_S} s")
    assert received[0].endswith(b'{"cpnNo":"X"}')


def test_a_reset_after_the_request_was_sent_may_have_been_sent() -> None:
    received: list[bytes] = []

    def read_then_reset(connection: socket.socket) -> None:
        received.append(read_request(connection))
        # Closing with SO_LINGER 0 sends RST, not FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with server(read_then_reset) as url:
        reset = create(url)
    assert reset.sent is True
    assert received[0].endswith(b'{"cpnNo":"X"}')


def test_every_status_is_an_answer() -> None:
    def not_found(connection: socket.socket) -> None:
        read_request(connection)
        body = b'{"code":4040}'
        connection.sendall(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )

    with server(not_found) as url:
        answer = http_client.request(url, method="POST", body=b'{"cpnNo":"X"}')
    assert (answer.status, answer.json(), answer.header("content-type")) == (
        404,
        {"code": 4040},
        "application/json",
    )
