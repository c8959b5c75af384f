"""`plangate` command line: serve, migrate, demo data, keys and environments."""

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import Tortoise

from domain.db import tortoise_config, unit_of_work
from domain.errors import DomainError, InvalidInput
from domain.settings import get_settings


async def _with_db(work: Callable[[], Awaitable[Any]]) -> Any:
    await Tortoise.init(config=tortoise_config())
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.app:app_factory",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    return 0


async def migrate() -> None:
    """Apply pending migrations (creates the SQLite file when needed)."""
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(config=tortoise_config())
    finally:
        await Tortoise.close_connections()


def cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(migrate())
    print("migrations applied", file=sys.stderr)
    return 0


DEMO_KEY_NAME = "make run"


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo catalog if needed, then print a fresh key pair (revoking the previous demo pair) and URLs."""
    from domain.demo import load_demo
    from domain.environments import service

    async def work() -> tuple[bool, str, str]:
        loaded = await load_demo(args.environment)
        async with unit_of_work():
            env = await service.get_environment(args.environment)
            for key in await service.list_keys(env.id):
                if key.name.startswith(DEMO_KEY_NAME) and key.revoked_at is None:
                    await service.revoke_key(key.id)
            secret = await service.create_key(env, "secret", f"{DEMO_KEY_NAME} (secret)")
            publishable = await service.create_key(env, "publishable", f"{DEMO_KEY_NAME} (publishable)")
        return loaded, secret.plaintext, publishable.plaintext

    loaded, secret, publishable = asyncio.run(_with_db(work))
    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    print(f"""
plangate ({args.environment} environment, {'demo catalog loaded' if loaded else 'existing data kept'})

  secret key       {secret}
  publishable key  {publishable}
  (shown once: these replace the keys printed by the previous `make run`)

  GraphiQL   {base}/graphql   (add the header {{"X-Schematic-Api-Key": "<secret key>"}})
  health     {base}/healthz   readiness {base}/readyz
  check      curl -s -X POST {base}/flags/api-calls/check -H 'X-Schematic-Api-Key: {publishable}' \\
                  -H 'Content-Type: application/json' -d '{{"company": {{"id": "demo-acme"}}}}'
""")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> str:
        async with unit_of_work():
            env = await service.get_environment(args.environment)
            created = await service.create_key(env, args.type, args.name or "", readonly=args.readonly,
                                               settings=_mapping(args.mapping))
        return created.plaintext

    print(asyncio.run(_with_db(work)))
    return 0


def _mapping(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--mapping is not valid JSON: {exc}") from None


def cmd_keys_configure(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> None:
        async with unit_of_work():
            key = await service.configure_segment_key(args.id, _mapping(args.mapping) or {})
        print(f"configured {key.id}: {json.dumps(key.settings)}")

    asyncio.run(_with_db(work))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> None:
        env_id = (await service.get_environment(args.environment)).id if args.environment else None
        keys = await service.list_keys(env_id)
        print(f"{'ID':<34} {'ENVIRONMENT':<12} {'TYPE':<12} {'PREFIX':<16} {'NAME':<24} {'LAST USED':<20} STATUS")
        for key in keys:
            last = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
            status = "revoked" if key.revoked_at else "active"
            print(f"{key.id:<34} {key.environment.name:<12} {key.kind:<12} {key.display_prefix:<16} "
                  f"{key.name[:24]:<24} {last:<20} {status}")

    asyncio.run(_with_db(work))
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> None:
        async with unit_of_work():
            key = await service.revoke_key(args.id)
        print(f"revoked {key.id}")

    asyncio.run(_with_db(work))
    return 0


def cmd_environments_list(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> None:
        for env in await service.list_environments():
            print(f"{env.id:<32} {env.name:<20} {env.environment_type}")

    asyncio.run(_with_db(work))
    return 0


def cmd_environments_create(args: argparse.Namespace) -> int:
    from domain.environments import service

    async def work() -> None:
        async with unit_of_work():
            env = await service.create_environment(args.name, args.type)
        print(env.id)

    asyncio.run(_with_db(work))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plangate",
        description="Self-hosted entitlements, usage metering and billing, wire-compatible with Schematic. "
        "Configuration comes from PLANGATE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server (REST, capture, GraphQL)")
    serve.add_argument("--host", help="bind address (default PLANGATE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PLANGATE_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default PLANGATE_WORKERS or 1)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="load the demo catalog into an environment if it has none")
    demo.add_argument("--environment", default="development")
    demo.set_defaults(func=cmd_demo)

    keys = sub.add_parser("keys", help="create, list and revoke API keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    create = keys.add_parser("create", help="create a key and print it (shown only once) on stdout")
    create.add_argument("--environment", required=True, help="environment name, e.g. development")
    create.add_argument("--type", required=True, choices=["secret", "publishable", "segment"])
    create.add_argument("--name", help="a label to recognise the key by")
    create.add_argument("--readonly", action="store_true", help="secret key limited to reads and checks")
    create.add_argument("--mapping", metavar="JSON",
                        help="segment keys: mapping settings as JSON, e.g. "
                        "'{\"company_key\": \"account_id\"}' (docs/metering.md)")
    create.set_defaults(func=cmd_keys_create)
    configure = keys.add_parser("configure", help="replace a Segment write key's mapping settings")
    configure.add_argument("id")
    configure.add_argument("--mapping", metavar="JSON", required=True, help="the settings, {} for the defaults")
    configure.set_defaults(func=cmd_keys_configure)
    listing = keys.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--environment", help="only this environment")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by id; it stops working at once")
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_keys_revoke)

    envs = sub.add_parser("environments", help="list or create environments").add_subparsers(
        dest="environments_command", required=True, metavar="ACTION"
    )
    envs.add_parser("list", help="list environments").set_defaults(func=cmd_environments_list)
    env_create = envs.add_parser("create", help="create an environment and print its id")
    env_create.add_argument("name")
    env_create.add_argument("--type", default="development", choices=["development", "staging", "production"])
    env_create.set_defaults(func=cmd_environments_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
