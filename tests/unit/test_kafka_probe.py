"""The stdlib Kafka probe says no quickly, and never hangs, when nothing like Kafka answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kmidi.cli.broker import free_port
from kmidi.cli.kafka_probe import broker_answers, parse_bootstrap, wait_for_broker


def serve(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback TCP server that runs ``handle`` on each connection; yields its address."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    connections: list[socket.socket] = []

    def loop() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(conn)
            handle(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
        for conn in connections:
            conn.close()


@pytest.fixture
def closes_at_once() -> Iterator[str]:
    yield from serve(lambda conn: conn.close())


@pytest.fixture
def never_answers() -> Iterator[str]:
    yield from serve(lambda conn: None)  # keeps the connection open, says nothing


@pytest.fixture
def speaks_http() -> Iterator[str]:
    def answer(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    yield from serve(answer)


def timed(check: Callable[[], bool]) -> tuple[bool, float]:
    started = time.monotonic()
    result = check()
    return result, time.monotonic() - started


def test_closed_port_is_no_quickly() -> None:
    answered, seconds = timed(lambda: broker_answers(f"127.0.0.1:{free_port()}"))
    assert answered is False
    assert seconds < 1


def test_server_that_hangs_up_is_no(closes_at_once: str) -> None:
    answered, seconds = timed(lambda: broker_answers(closes_at_once, timeout=2))
    assert answered is False
    assert seconds < 1.5


def test_silent_server_is_no_within_the_timeout(never_answers: str) -> None:
    answered, seconds = timed(lambda: broker_answers(never_answers, timeout=0.5))
    assert answered is False
    assert 0.4 < seconds < 1.5


def test_non_kafka_server_is_no(speaks_http: str) -> None:
    assert broker_answers(speaks_http, timeout=2) is False


def test_wait_for_broker_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no Kafka broker answered"):
        wait_for_broker(f"127.0.0.1:{free_port()}", timeout=0.5)
    assert time.monotonic() - started < 2


def test_every_bootstrap_address_is_tried(closes_at_once: str) -> None:
    assert broker_answers(f"{closes_at_once},127.0.0.1:{free_port()}", timeout=1) is False


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("a:1, b:2", [("a", 1), ("b", 2)]),
        ("[::1]:9092", [("::1", 9092)]),
    ],
)
def test_parse_bootstrap(bootstrap: str, expected: list[tuple[str, int]]) -> None:
    assert parse_bootstrap(bootstrap) == expected


@pytest.mark.parametrize("bootstrap", ["", "localhost", "host:port"])
def test_parse_bootstrap_rejects_garbage(bootstrap: str) -> None:
    with pytest.raises(ValueError, match=r"bootstrap|address"):
        parse_bootstrap(bootstrap)
