"""A real plangate server for the tests that need one: clients that only speak to a network address (the
sync schematichq SDK, segment-analytics-python) and tests with several server processes.

`run_server()` starts `uvicorn --factory api.app:app_factory` as a subprocess on a free loopback port,
against the test run's database (`tests.conftest.DATABASE_URL`: the SQLite file or the PostgreSQL
database the session fixture created with its tables), waits for /healthz, yields the base URL and
stops the server (its whole process group) afterwards.

Use the `live_server` fixture (one worker), or `live_server_factory(workers=2)` for more processes:

    from tests.live import live_server  # noqa: F401  (fixture)

    async def test_x(live_server: str, keys: Keys) -> None: ...

A server lives for one test: its caches never outlive the truncation between tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_server(workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]
    environment = {
        **os.environ, "PLANGATE_DATABASE_URL": DATABASE_URL, "PLANGATE_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT), **(env or {}),
    }
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log)
        yield url
    finally:
        _stop(proc)
        log.close()


def _output(log: object) -> str:
    log.seek(0)  # type: ignore[attr-defined]
    return log.read().decode(errors="replace")[-4000:]  # type: ignore[attr-defined]


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: object) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"plangate server exited with {proc.returncode}:\n{_output(log)}")
            try:
                if http.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"plangate server did not answer /healthz within {STARTUP_TIMEOUT}s:\n{_output(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def live_server(db: None) -> Iterator[str]:
    """Base URL of a one-worker plangate server on the test database."""
    with run_server() as url:
        yield url


@pytest.fixture
def live_server_factory(db: None) -> Callable[..., AbstractContextManager[str]]:
    """`with live_server_factory(workers=2) as url: ...` — a server with the given worker processes."""
    return run_server
