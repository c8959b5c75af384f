"""Ingestion throughput: `POST /batch` with 100-event batches against PostgreSQL, end to end.

    .venv/bin/python bench/bench_ingest.py [--workers 2] [--connections 64] [--seconds 15] [--companies 1000]
        [--distribution uniform|zipf] [--event-names 1..5]

What it does:
1. creates a fresh PostgreSQL database (`plangate_bench_ingest_<random>`, dropped at the end), builds the tables
   and seeds the environments, a secret key and `--companies` companies (key `id`);
2. baseline: starts `uvicorn --workers N` serving a bare Starlette route that reads the body and answers
   202 without touching the database, and drives it like the real run;
3. starts `uvicorn --workers N --factory api.app:app_factory` (the real app, same uvicorn settings) and
   drives `POST /batch` from `--connections` keep-alive loopback connections (raw asyncio sockets and
   pre-serialised bodies, so the client stays cheap on a 2-core box), spread evenly over the workers
   (`balanced_connections`). Every event is new (unique idempotency key), so every event is stored and
   counted before its reply;
4. checks the database: stored events == events acknowledged, sum of the all_time counters == sum of
   the quantities sent; prints events/s of both runs and their ratio, and the CPU time per event of the
   server processes and of PostgreSQL (when it runs on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENT_NAMES = ("api-call", "seat_added", "report.export", "storage_gb", "ai_tokens")
BATCH = 100


# --- the baseline app (imported by uvicorn in the baseline run) -----------------------------------


def baseline_app():  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def batch(request: Request) -> Response:
        await request.body()
        return Response(b'{"accepted":true}', status_code=202, media_type="application/json")

    return Starlette(routes=[Route("/batch", batch, methods=["POST"])])


# --- setup ----------------------------------------------------------------------------------------


async def setup_database(admin_url: str, companies: int) -> tuple[str, str, list[str]]:
    import asyncpg
    from tortoise import Tortoise

    parts = urlsplit(admin_url)
    name = f"plangate_bench_ingest_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres")))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(parts._replace(path=f"/{name}"))

    from domain.db import tortoise_config
    from domain.migrations import _seed

    await Tortoise.init(config=tortoise_config(url))
    await Tortoise.generate_schemas()
    await _seed.create_defaults(None, types.SimpleNamespace(client=Tortoise.get_connection("default")))
    from domain.companies.models import Company, CompanyKey
    from domain.environments import service
    from domain.environments.models import Environment

    env = await Environment.get(name="development")
    key = await service.create_key(env, "secret", "bench")
    rows = [Company(environment_id=env.id, name=f"Company {i}") for i in range(companies)]
    await Company.bulk_create(rows, batch_size=1000)
    await CompanyKey.bulk_create(
        [CompanyKey(environment_id=env.id, company_id=c.id, key="id", value=f"c{i}") for i, c in enumerate(rows)],
        batch_size=1000,
    )
    await Tortoise.get_connection("default").execute_script("ANALYZE")
    await Tortoise.close_connections()
    return url, key.plaintext, [f"c{i}" for i in range(companies)]


async def verify(url: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))
    try:
        events = await conn.fetchval("SELECT count(*) FROM event WHERE status = 'processed'")
        total = await conn.fetchval(
            "SELECT coalesce(sum(value), 0) FROM usage_counter WHERE period = 'all_time' AND entity_id LIKE 'comp_%'"
        )
    finally:
        await conn.close()
    return int(events), int(total)


async def drop_database(url: str) -> None:
    import asyncpg

    parts = urlsplit(url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres")))
    await admin.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    await admin.close()


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)


def wait_ready(port: int, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- CPU accounting -------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used by the server processes and by a PostgreSQL on this machine (all its processes,
    seen through /proc; zero when the database runs elsewhere) between `start` and `stop`."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._start: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "server": {pid: _cpu_seconds(pid) for pid in _descendants(self.server_pid)},
            "postgres": {pid: _cpu_seconds(pid) for pid in _postgres_pids()},
        }

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> None:
        for group, now in self._sample().items():
            before = self._start.get(group, {})
            self.used[group] = sum(value - before.get(pid, 0.0) for pid, value in now.items())


# --- connections spread evenly over the workers ----------------------------------------------------

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server end of the loopback connection from `client_port` (/proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            if int(local, 16) == server_port and int(remote, 16) == client_port:
                return fields[9]
    return None


def _owner(inode: str, workers: list[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in workers:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


async def balanced_connections(port: int, server_pid: int, count: int, workers: int) -> list[Stream]:
    """`count` keep-alive connections, as many to each worker as possible. Workers share one listening
    socket and whichever wakes first accepts everything queued, so connections opened at once may all
    land on one worker, which would halve the capacity measured. Each new connection is answered once
    (so it is accepted), its worker found through /proc, and it is kept only while that worker is
    short of its share."""
    pids = [pid for pid in _descendants(server_pid) if pid != server_pid]
    share = -(-count // workers)
    owned: dict[int | None, list[Stream]] = {}
    kept: list[Stream] = []
    for _ in range(count * 20):
        if len(kept) == count:
            break
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /batch HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await _read_response(reader)
        inode = _server_socket_inode(port, writer.get_extra_info("sockname")[1])
        owner = _owner(inode, pids) if inode else None
        if len(owned.setdefault(owner, [])) < share or owner is None:
            owned[owner].append((reader, writer))
            kept.append((reader, writer))
        else:
            writer.close()
    print(f"{'':9s} connections per worker: {sorted(len(v) for k, v in owned.items() if k is not None)}")
    return kept


# --- the client -----------------------------------------------------------------------------------


class Workload:
    """Pre-serialised request parts: a body is the join of fixed event fragments and unique keys."""

    def __init__(
        self, api_key: str, company_keys: list[str], distribution: str = "uniform", names: int = len(EVENT_NAMES),
        seed: int = 7,
    ) -> None:
        rng = random.Random(seed)
        self.api_key = api_key
        self.templates: list[tuple[list[bytes], int]] = []
        if distribution == "zipf":  # company of rank r sends a share proportional to 1/r
            weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(company_keys))))
        else:
            weights = list(itertools.accumulate(1.0 for _ in company_keys))
        event_names = EVENT_NAMES[:names]
        for _ in range(256):
            fragments: list[bytes] = []
            quantity = 0
            for i in range(BATCH):
                q = rng.randint(1, 5)
                quantity += q
                company = rng.choices(company_keys, cum_weights=weights)[0]
                name = rng.choice(event_names)
                fragments.append(
                    (f'{{"api_key":"{api_key}","type":"track","idempotency_key":"').encode()
                )
                fragments.append(
                    (f'-{i}","body":{{"company":{{"id":"{company}"}},"event":"{name}","quantity":{q},'
                     '"user":null,"traits":null}}').encode()
                )
            self.templates.append((fragments, quantity))
        self.head = (
            "POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Schematic-Api-Key: {api_key}\r\nContent-Length: "
        ).encode()

    def request(self, n: int, run_id: bytes) -> tuple[bytes, int]:
        fragments, quantity = self.templates[n % len(self.templates)]
        prefix = run_id + str(n).encode()
        parts = [b'{"events":[']
        for i in range(0, len(fragments), 2):
            if i:
                parts.append(b",")
            parts += (fragments[i], prefix, fragments[i + 1])
        parts.append(b"]}")
        body = b"".join(parts)
        return self.head + str(len(body)).encode() + b"\r\n\r\n" + body, quantity


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def drive(workload: Workload, streams: list[Stream], warmup: float, seconds: float, meter: CpuMeter) -> dict:
    run_id = secrets.token_hex(3).encode()
    counter = iter(range(10**9))
    acked_events = acked_quantity = 0
    errors = 0
    latencies: list[float] = []
    start_at = time.monotonic() + warmup
    stop_at = start_at + seconds
    measured = 0

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal acked_events, acked_quantity, errors, measured
        try:
            while True:
                now = time.monotonic()
                if now >= stop_at:
                    return
                request, quantity = workload.request(next(counter), run_id)
                sent = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                done = time.monotonic()
                if status >= 300:
                    errors += 1
                    continue
                acked_events += BATCH
                acked_quantity += quantity
                if start_at <= done < stop_at:
                    measured += BATCH
                    latencies.append(time.perf_counter() - sent)
        finally:
            writer.close()

    async def account() -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        meter.start()
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        meter.stop()

    await asyncio.gather(account(), *(connection(reader, writer) for reader, writer in streams))
    latencies.sort()
    return {
        "events_per_s": measured / seconds,
        "acked_events": acked_events,
        "acked_quantity": acked_quantity,
        "errors": errors,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
    }


async def measure(port: int, server_pid: int, workload: Workload, args: argparse.Namespace, meter: CpuMeter) -> dict:
    streams = await balanced_connections(port, server_pid, args.connections, args.workers)
    return await drive(workload, streams, args.warmup, args.seconds, meter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=10, help="database connections per worker")
    parser.add_argument("--distribution", choices=("uniform", "zipf"), default="uniform",
                        help="how events spread over the companies (zipf: rank r sends ~1/r of the share)")
    parser.add_argument("--event-names", type=int, default=len(EVENT_NAMES), choices=range(1, len(EVENT_NAMES) + 1))
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    url, api_key, company_keys = asyncio.run(setup_database(args.database, args.companies))
    workload = Workload(api_key, company_keys, args.distribution, args.event_names)
    print(f"database {urlsplit(url).path.lstrip('/')}: {args.companies} companies ({args.distribution}), "
          f"{args.event_names} event names; "
          f"{args.workers} uvicorn workers, {args.connections} connections, {BATCH} events per request")
    results: dict[str, dict] = {}
    try:
        runs = [] if args.skip_baseline else [("baseline", "bench.bench_ingest:baseline_app", "/batch")]
        runs.append(("plangate", "api.app:app_factory", "/healthz"))
        for label, target, ready_path in runs:
            port = free_port()
            env = {
                "PLANGATE_DATABASE_URL": f"{url}?maxsize={args.pool}&minsize=2",
                "PLANGATE_LOG_LEVEL": "warning",
                "PYTHONPATH": str(ROOT),
            }
            proc = start_server(target, port, args.workers, env)
            try:
                wait_ready(port, ready_path)
                meter = CpuMeter(proc.pid)
                results[label] = asyncio.run(measure(port, proc.pid, workload, args, meter))
            finally:
                stop_server(proc)
            r = results[label]
            print(f"{label:9s} {r['events_per_s']:>10,.0f} events/s   p50 {r['p50_ms']:.1f} ms   "
                  f"p99 {r['p99_ms']:.1f} ms   non-2xx {r['errors']}")
            measured = r["events_per_s"] * args.seconds
            if measured:
                per_event = {group: 1e6 * used / measured for group, used in meter.used.items()}
                print(f"{'':9s} CPU per event: server {per_event['server']:.1f} µs, "
                      f"PostgreSQL {per_event['postgres']:.1f} µs")
        stored, counted = asyncio.run(verify(url))
        real = results["plangate"]
        print(f"verification: acknowledged {real['acked_events']:,} events (quantity {real['acked_quantity']:,}); "
              f"stored {stored:,}; all_time counters sum {counted:,}")
        ok = stored == real["acked_events"] and counted == real["acked_quantity"]
        if "baseline" in results:
            ratio = real["events_per_s"] / results["baseline"]["events_per_s"]
            print(f"ratio plangate/baseline: {ratio:.4f}")
        print("verification " + ("OK" if ok else "FAILED"))
        if not ok:
            sys.exit(1)
    finally:
        if not args.keep_database:
            asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
