"""Flags. A feature's flag is created and deleted with its feature; standalone flags are managed here."""

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.models import Flag
from domain.catalog.validation import UNSET, Unset
from domain.errors import InUse, KeyConflict
from domain.scope import Scope


async def create_flag(
    scope: Scope,
    *,
    key: str,
    name: str,
    description: str = "",
    default_value: bool = False,
    flag_type: str = "boolean",
) -> Flag:
    """Create a standalone flag (a feature's flag comes with the feature)."""
    scope.require_write("creating a flag")
    key = v.key(key)
    name = v.name(name)
    description = v.text(description, "description")
    default_value = v.boolean(default_value, "default_value")
    v.choice(flag_type, ("boolean",), "flag_type")
    if await repo.key_taken(scope, key):
        raise KeyConflict(f"a flag with key {key!r} already exists in this environment", field="key")
    flag = await Flag.create(
        environment_id=scope.environment_id, key=key, name=name, description=description, default_value=default_value
    )
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return flag


async def update_flag(
    scope: Scope,
    flag_id: str,
    *,
    key: str | Unset = UNSET,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    default_value: bool | Unset = UNSET,
    flag_type: str | Unset = UNSET,
) -> Flag:
    """Change the given fields. The key of a feature's flag is the feature's key too."""
    scope.require_write("updating a flag")
    flag = await repo.get_flag(scope, flag_id)
    updates: dict[str, object] = {}
    if flag_type is not UNSET:
        v.choice(flag_type, ("boolean",), "flag_type")
    if key is not UNSET and key != flag.key:
        updates["key"] = v.key(key)
        if await repo.key_taken(scope, key, except_flag_id=flag.id):
            raise KeyConflict(f"a flag with key {key!r} already exists in this environment", field="key")
    if name is not UNSET:
        updates["name"] = v.name(name)
    if description is not UNSET:
        updates["description"] = v.text(description, "description")
    if default_value is not UNSET:
        updates["default_value"] = v.boolean(default_value, "default_value")
    if updates:
        await flag.update_from_dict(updates).save()
        await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return flag


async def delete_flag(scope: Scope, flag_id: str) -> Flag:
    """Delete a standalone flag and its rules. A feature's flag goes only with its feature."""
    scope.require_write("deleting a flag")
    flag = await repo.get_flag(scope, flag_id)
    if flag.feature_id is not None:  # type: ignore[attr-defined]
        raise InUse(
            f"flag {flag.key!r} belongs to feature {flag.feature_id}; delete the feature instead",  # type: ignore[attr-defined]
            field="id",
        )
    await flag.delete()
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return flag

