"""The `plangate` command, run as a real process against a fresh database of the suite's backend."""

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import DATABASE_URL, IS_POSTGRES, _drop_postgres_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    if IS_POSTGRES:
        import asyncpg

        parts = urlsplit(DATABASE_URL)
        url = urlunsplit(parts._replace(path=f"/plangate_test_cli_{secrets.token_hex(4)}"))

        async def create() -> None:
            conn = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres")))
            await conn.execute(f'CREATE DATABASE "{urlsplit(url).path[1:]}"')
            await conn.close()

        asyncio.run(create())
        yield url
        asyncio.run(_drop_postgres_database(url))
    else:
        yield f"sqlite://{tempfile.mkdtemp(prefix='plangate-cli-')}/cli.db"


def plangate(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLANGATE_DATABASE_URL": database_url, "PLANGATE_LOG_LEVEL": "warning"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_help_documents_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "api.cli", "--help"], cwd=ROOT, capture_output=True, text=True)
    for command in ("serve", "migrate", "demo", "keys", "environments"):
        assert command in out.stdout
    keys_help = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--help"], cwd=ROOT,
                               capture_output=True, text=True).stdout
    assert "--environment" in keys_help and "--type" in keys_help and "--name" in keys_help


def test_migrate_keys_and_environments(database_url: str) -> None:
    assert plangate(database_url, "migrate").returncode == 0
    assert plangate(database_url, "migrate").returncode == 0  # nothing pending the second time
    listed = plangate(database_url, "environments", "list").stdout
    assert {"development", "staging", "production"} <= set(listed.split())

    created = plangate(database_url, "keys", "create", "--environment", "staging", "--type", "secret", "--name", "ci")
    assert created.returncode == 0
    key = created.stdout.strip()
    assert key.startswith("sch_stag_") and "\n" not in key  # only the key on stdout: scripts capture it
    publishable = plangate(database_url, "keys", "create", "--environment", "staging", "--type", "publishable")
    assert publishable.stdout.strip().startswith("api_")
    segment = plangate(database_url, "keys", "create", "--environment", "staging", "--type", "segment",
                       "--name", "segment", "--mapping", '{"company_key": "account_id"}')
    assert segment.stdout.strip().startswith("seg_"), segment.stderr
    bad = plangate(database_url, "keys", "create", "--environment", "staging", "--type", "segment",
                   "--mapping", '{"nope": 1}')
    assert bad.returncode == 2 and "unknown Segment mapping setting 'nope'" in bad.stderr
    segment_id = next(line.split()[0] for line in plangate(database_url, "keys", "list").stdout.splitlines()
                      if " segment " in line and "seg_" in line)
    configured = plangate(database_url, "keys", "configure", segment_id, "--mapping", '{"user_key": "uid"}')
    assert configured.returncode == 0 and '"user_key": "uid"' in configured.stdout

    keys = plangate(database_url, "keys", "list", "--environment", "staging").stdout
    assert key not in keys and "ci" in keys and "active" in keys
    key_id = next(line.split()[0] for line in keys.splitlines() if " ci " in line)
    assert plangate(database_url, "keys", "revoke", key_id).returncode == 0
    assert "revoked" in plangate(database_url, "keys", "list").stdout

    env_id = plangate(database_url, "environments", "create", "eu-prod", "--type", "production").stdout.strip()
    assert env_id.startswith("env_")
    duplicate = plangate(database_url, "environments", "create", "eu-prod")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr


def test_bad_input_is_a_clear_error(database_url: str) -> None:
    plangate(database_url, "migrate")
    unknown = plangate(database_url, "keys", "create", "--environment", "nowhere", "--type", "secret")
    assert unknown.returncode == 2 and "no environment named 'nowhere'" in unknown.stderr
    assert unknown.stdout == ""
    wrong_type = plangate(database_url, "keys", "create", "--environment", "staging", "--type", "root")
    assert wrong_type.returncode == 2 and "invalid choice" in wrong_type.stderr
    missing = plangate(database_url, "keys", "revoke", "apikey_nope")
    assert missing.returncode == 2 and "no API key" in missing.stderr


def test_demo_loads_once_and_prints_fresh_keys(database_url: str) -> None:
    plangate(database_url, "migrate")
    first = plangate(database_url, "demo")
    assert first.returncode == 0, first.stderr
    assert "demo catalog loaded" in first.stdout and "sch_dev_" in first.stdout and "/graphql" in first.stdout
    second = plangate(database_url, "demo")
    assert "existing data kept" in second.stdout
    old_key = next(w for w in first.stdout.split() if w.startswith("sch_dev_"))
    assert old_key not in second.stdout
    listing = plangate(database_url, "keys", "list", "--environment", "development").stdout
    assert listing.count("make run") == 4 and listing.count("revoked") == 2  # the previous pair was revoked
