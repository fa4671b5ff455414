"""A real redis-server for the tests, on a free 127.0.0.1 port, with nothing written to disk.

    with running_redis() as uri:   # "redis://127.0.0.1:PORT"
        ...

or the ``redis_server`` fixture (one server per test module). Without the Debian ``redis-server``
binary the tests that need it are skipped, or fail under ``CI=true`` (``apt-get install redis-server``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.conftest import free_port

INSTALL_HINT = "apt-get install redis-server"
START_TIMEOUT = 20.0  # seconds; a generous bound for a loaded machine, not a speed check
START_ATTEMPTS = 3  # another process may take the free port before redis-server binds it


class RedisServerError(RuntimeError):
    """redis-server did not start answering PING."""


def redis_server_binary() -> str:
    """The redis-server path; skips the test (fails it under CI=true) when it is not installed."""
    binary = shutil.which("redis-server")
    if binary:
        return binary
    message = f"redis-server is not installed: {INSTALL_HINT}"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start(binary: str, port: int, workdir: str) -> subprocess.Popen[bytes]:
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", workdir, "--daemonize", "no", "--loglevel", "warning"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_until_ready(server: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        if answers_ping(port):
            return True
        time.sleep(0.05)
    return False


def _stop(server: subprocess.Popen[bytes]) -> str:
    """Stops the server; returns what it printed."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return server.stdout.read().decode(errors="replace") if server.stdout else ""


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """A fresh redis-server; yields its ``redis://127.0.0.1:PORT`` URI and stops it afterwards."""
    binary = redis_server_binary()
    with tempfile.TemporaryDirectory(prefix="redis-test-") as workdir:
        output = ""
        for _ in range(START_ATTEMPTS):
            port = free_port()
            server = _start(binary, port, workdir)
            if _wait_until_ready(server, port):
                break
            output = _stop(server)
        else:
            raise RedisServerError(f"redis-server did not answer PING on 127.0.0.1: {output.strip()[-500:]}")
        try:
            yield f"redis://127.0.0.1:{port}"
        finally:
            _stop(server)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    """The URI of a redis-server shared by one test module."""
    with running_redis() as uri:
        yield uri
