"""Environments and API keys. Keys are shown once at creation and stored only as SHA-256 hashes."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from domain.cache import changes
from domain.environments.models import ENVIRONMENT_TYPES, KEY_KINDS, Account, ApiKey, Environment
from domain.errors import InvalidInput, NotFound, Unauthenticated
from domain.scope import Scope
from domain.timeutil import utcnow

_SECRET_PREFIX = {"development": "sch_dev", "staging": "sch_stag", "production": "sch_prod"}
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _new_plaintext(kind: str, environment_type: str) -> str:
    token = secrets.token_urlsafe(32)
    if kind == "secret":
        return f"{_SECRET_PREFIX[environment_type]}_{token}"
    if kind == "publishable":
        return f"api_{token}"
    return f"seg_{token}"


async def list_environments() -> list[Environment]:
    return await Environment.all().order_by("created_at", "name")


async def get_environment(name_or_id: str) -> Environment:
    env = await Environment.get_or_none(name=name_or_id) or await Environment.get_or_none(id=name_or_id)
    if env is None:
        raise NotFound(f"no environment named {name_or_id!r}", field="environment")
    return env


async def create_environment(name: str, environment_type: str = "development") -> Environment:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("environment name must be 1-100 characters", field="name")
    if environment_type not in ENVIRONMENT_TYPES:
        raise InvalidInput(f"environment_type must be one of {', '.join(ENVIRONMENT_TYPES)}", field="environment_type")
    account = await Account.first()
    if account is None:
        raise NotFound("the database has not been migrated: run `plangate migrate`")
    if await Environment.exists(name=name):
        raise InvalidInput(f"an environment named {name!r} already exists", field="name")
    return await Environment.create(account=account, name=name, environment_type=environment_type)


def scope_for(env: Environment, key: ApiKey | None = None) -> Scope:
    return Scope(
        environment_id=env.id,
        account_id=env.account_id,  # type: ignore[attr-defined]
        environment_name=env.name,
        environment_type=env.environment_type,
        key_id=key.id if key else None,
        key_kind=key.kind if key else "system",
        readonly=key.readonly if key else False,
    )


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    plaintext: str  # shown once, never stored


async def create_key(
    environment: Environment, kind: str, name: str = "", description: str = "", readonly: bool = False,
    settings: dict | None = None,
) -> CreatedKey:
    if kind not in KEY_KINDS:
        raise InvalidInput(f"key type must be one of {', '.join(KEY_KINDS)}", field="type")
    if len(name) > 200:
        raise InvalidInput("key name is longer than 200 characters", field="name")
    if settings and kind != "segment":
        raise InvalidInput("only Segment write keys take mapping settings", field="mapping")
    settings = _segment_settings(settings) if kind == "segment" else {}
    plaintext = _new_plaintext(kind, environment.environment_type)
    key = await ApiKey.create(
        environment=environment,
        kind=kind,
        name=name or f"{kind} key",
        description=description,
        readonly=readonly,
        key_hash=hash_key(plaintext),
        display_prefix=plaintext[: plaintext.index("_", 4) + 5] if kind == "secret" else plaintext[:8],
        settings=settings,
    )
    return CreatedKey(key=key, plaintext=plaintext)


def _segment_settings(settings: dict | None) -> dict:
    from domain.metering.segment import SegmentMapping

    return SegmentMapping.validate(settings or {})


async def configure_segment_key(key_id: str, settings: dict, environment_id: str | None = None) -> ApiKey:
    """Replace a Segment write key's mapping settings (docs/metering.md lists them)."""
    query = ApiKey.filter(id=key_id)
    if environment_id:
        query = query.filter(environment_id=environment_id)
    key = await query.first()
    if key is None:
        raise NotFound(f"no API key with id {key_id!r}", field="id")
    if key.kind != "segment":
        raise InvalidInput("only Segment write keys take mapping settings", field="id")
    key.settings = _segment_settings(settings)
    await key.save(update_fields=["settings", "updated_at"])
    await changes.record_change(key.environment_id, changes.API_KEY, key.key_hash)  # type: ignore[attr-defined]
    return key


async def list_keys(environment_id: str | None = None) -> list[ApiKey]:
    query = ApiKey.all().order_by("-created_at")
    if environment_id:
        query = query.filter(environment_id=environment_id)
    return await query.prefetch_related("environment")


async def revoke_key(key_id: str, environment_id: str | None = None) -> ApiKey:
    query = ApiKey.filter(id=key_id)
    if environment_id:
        query = query.filter(environment_id=environment_id)
    key = await query.first()
    if key is None:
        raise NotFound(f"no API key with id {key_id!r}", field="id")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await key.save(update_fields=["revoked_at", "updated_at"])
        await changes.record_change(key.environment_id, changes.API_KEY, key.key_hash)  # type: ignore[attr-defined]
    return key


@dataclass(slots=True)
class _CachedKey:
    scope: Scope
    kind: str
    settings: dict
    last_used_written: object


class KeyAuthenticator:
    """Resolves a presented key to a Scope. Hits are served from memory; revocation reaches every
    process through the change feed (scope `api_key`, ref = key hash)."""

    def __init__(self) -> None:
        self._cache: dict[str, _CachedKey] = {}
        changes.subscribe(self._invalidate)

    def _invalidate(self, environment_id: str, scope: str, ref_id: str) -> None:
        if scope == changes.API_KEY:
            self._cache.pop(ref_id, None)
        elif scope == changes.ENVIRONMENT and ref_id == "*":
            self._cache.clear()

    async def authenticate(self, plaintext: str | None, *, kinds: tuple[str, ...] = ("secret", "publishable")) -> Scope:
        entry = await self.lookup(plaintext)
        if entry.kind not in kinds:
            raise Unauthenticated("this key cannot be used here")
        return entry.scope

    async def lookup(self, plaintext: str | None) -> _CachedKey:
        if not plaintext:
            raise Unauthenticated("missing API key: send it in the X-Schematic-Api-Key header")
        digest = hash_key(plaintext)
        entry = self._cache.get(digest)
        if entry is None:
            key = await ApiKey.get_or_none(key_hash=digest).prefetch_related("environment")
            if key is None or key.revoked_at is not None:
                raise Unauthenticated("invalid or revoked API key")
            entry = _CachedKey(scope_for(key.environment, key), key.kind, key.settings, None)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = entry
        await self._touch(entry)
        return entry

    async def _touch(self, entry: _CachedKey) -> None:
        now = utcnow()
        last = entry.last_used_written
        if last is None or now - last > _LAST_USED_RESOLUTION:  # type: ignore[operator]
            entry.last_used_written = now
            await ApiKey.filter(id=entry.scope.key_id).update(last_used_at=now)


authenticator = KeyAuthenticator()


async def system_scope(environment: str = "development") -> Scope:
    """A scope with full rights, for the CLI and the demo loader."""
    return scope_for(await get_environment(environment))


