"""HTTP flag-check throughput against a bare Starlette baseline, and its independence from history.

    .venv/bin/python bench/bench_check.py [--database postgres://postgres@127.0.0.1:5432/postgres] [--seconds 10]

Creates a scratch database (dropped afterwards), migrates it, loads the demo catalog, then, with `wrk`
(Debian package `wrk`) on loopback:
  1. POST /flags/api-calls/check for the demo company against plangate and against bench/baseline_app.py
     (a bare Starlette route answering with the bytes of a real check response), both served by one
     uvicorn worker with the same settings, and prints the ratio;
  2. the same check with 10^2 and then 10^6 stored events for the company, and prints that ratio.
"""

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
UVICORN = [sys.executable, "-m", "uvicorn", "--workers", "1", "--no-access-log", "--log-level", "warning",
           "--loop", "uvloop", "--http", "httptools", "--host", "127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([*UVICORN, "--port", str(port), *args], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server {args} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def wrk(url: str, key: str, seconds: int, connections: int) -> float:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        'wrk.method = "POST"\n'
        'wrk.body = \'{"company": {"id": "demo-acme"}, "user": null}\'\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Schematic-Api-Key"] = "{key}"\n'
    )
    script.close()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name, f"{url}/flags/api-calls/check"],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed responses:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def prepare(database_url: str) -> str:
    """Migrate, load the demo, create a key; returns the secret key."""
    from tortoise import Tortoise

    from api.cli import migrate
    from domain.db import tortoise_config, unit_of_work
    from domain.demo import load_demo
    from domain.environments import service

    await migrate()
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        await load_demo("development")
        async with unit_of_work():
            env = await service.get_environment("development")
            return (await service.create_key(env, "secret", "bench")).plaintext
    finally:
        await Tortoise.close_connections()


async def store_events(database_url: str, count: int) -> None:
    """Append `count` processed track events for the demo company (set-based, like a long history)."""
    from tortoise import Tortoise

    from domain.companies.models import CompanyKey
    from domain.db import tortoise_config

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        key = await CompanyKey.get(key="id", value="demo-acme")
        conn = Tortoise.get_connection("default")
        start = datetime.now(UTC) - timedelta(days=300)
        await conn.execute_query(
            "INSERT INTO event (id, environment_id, event_type, event_name, company_id, quantity, body,"
            " idempotency_key, source, status, backfill, captured_at, received_at)"
            " SELECT 'evt_bench_' || g, $1, 'track', 'api-call', $2, 1, '{}', 'bench-' || g, 'bench',"
            " 'processed', true, $3::timestamptz + (g || ' seconds')::interval, now()"
            " FROM generate_series((SELECT count(*) FROM event WHERE source = 'bench') + 1, $4) AS g",
            [key.environment_id, key.company_id, start, count],  # type: ignore[attr-defined]
        )
    finally:
        await Tortoise.close_connections()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("PLANGATE_BENCH_DATABASE_URL",
                                                            "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")

    import asyncpg

    parts = urlsplit(args.database)
    name = f"plangate_bench_{secrets.token_hex(4)}"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    database_url = urlunsplit(parts._replace(path=f"/{name}"))

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    env = {**os.environ, "PLANGATE_DATABASE_URL": database_url, "PLANGATE_LOG_LEVEL": "warning"}
    os.environ.update(env)
    try:
        key = asyncio.run(prepare(database_url))
        asyncio.run(store_events(database_url, 100))
        results: dict[str, float] = {}
        plangate, url = start(["--factory", "api.app:app_factory"], env)
        response = httpx.post(f"{url}/flags/api-calls/check", json={"company": {"id": "demo-acme"}},
                              headers={"X-Schematic-Api-Key": key})
        check = response.json()["data"]
        assert check["company_id"] and check["rule_type"], check
        # The baseline sends the very bytes of a real check response: the ratio measures computing, not size.
        baseline, base_url = start(["bench.baseline_app:app"], {**env, "PLANGATE_BASELINE_BODY": response.text})
        try:
            wrk(url, key, 2, args.connections)  # warm up
            results["baseline"] = wrk(base_url, key, args.seconds, args.connections)
            results["check, 10^2 events"] = wrk(url, key, args.seconds, args.connections)
        finally:
            stop(plangate)
        asyncio.run(store_events(database_url, 1_000_000))
        plangate, url = start(["--factory", "api.app:app_factory"], env)
        try:
            wrk(url, key, 2, args.connections)
            results["check, 10^6 events"] = wrk(url, key, args.seconds, args.connections)
        finally:
            stop(plangate)
            stop(baseline)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    print(f"\n{'run':<24} {'requests/s':>12}")
    for label, rps in results.items():
        print(f"{label:<24} {rps:>12,.0f}")
    print(f"\nratio check / baseline:          {results['check, 10^2 events'] / results['baseline']:.2f}  (aim >= 0.7)")
    print(f"ratio 10^6 events / 10^2 events: "
          f"{results['check, 10^6 events'] / results['check, 10^2 events']:.2f}  (aim >= 0.9)")


if __name__ == "__main__":
    main()
