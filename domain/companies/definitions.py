"""Trait definitions (§1.7) and writing typed trait values."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from tortoise.expressions import Q

from domain.cache import changes
from domain.catalog.models import Condition, Feature, PlanEntitlement
from domain.companies import repository, validation
from domain.companies.models import TraitDefinition
from domain.companies.repository import EntityKind
from domain.companies.traits import StoredTrait, coerce_trait, infer_trait_type, trait_json
from domain.entitlements.models import CompanyOverride
from domain.errors import InUse, InvalidInput, NotFound
from domain.scope import Scope

VALUE_FIELDS = ("value_text", "value_number", "value_bool", "value_date")
_KINDS = {"company": repository.COMPANY, "user": repository.USER}


def stored_of(row: object) -> StoredTrait:
    return StoredTrait(**{f: getattr(row, f) for f in VALUE_FIELDS})


async def get_or_create_trait_definition(
    scope: Scope, entity_type: str, name: str, trait_type: str | None = None, display_name: str = ""
) -> TraitDefinition:
    """Get-or-create by (entity_type, name). A `trait_type` that contradicts the existing one is refused."""
    validation.entity_type(entity_type)
    validation.trait_name(name, "name")
    validation.display_name(display_name)
    if trait_type is not None:
        validation.trait_type(trait_type)
    definition, created = await TraitDefinition.get_or_create(
        environment_id=scope.environment_id, entity_type=entity_type, name=name,
        defaults={"trait_type": trait_type or "string", "display_name": display_name},
    )
    if not created and trait_type is not None and definition.trait_type != trait_type:
        raise InvalidInput(f"trait {name!r} already exists as a {definition.trait_type}", field="trait_type")
    return definition


async def get_trait_definition(scope: Scope, definition_id: str) -> TraitDefinition:
    definition = await repository.definitions(scope).get_or_none(id=definition_id)
    if definition is None:
        raise NotFound(f"no trait definition with id {definition_id!r}", field="id")
    return definition


async def list_trait_definitions(scope: Scope, entity_type: str | None = None) -> list[TraitDefinition]:
    if entity_type is not None:
        validation.entity_type(entity_type)
    return await repository.definitions(scope, entity_type).order_by("entity_type", "name")


async def update_trait_definition(
    scope: Scope, definition_id: str, trait_type: str | None = None, display_name: str | None = None
) -> TraitDefinition:
    """Change the type (stored values are converted; if any does not fit, nothing changes) or the display name."""
    definition = await get_trait_definition(scope, definition_id)
    if display_name is not None:
        definition.display_name = validation.display_name(display_name)
    if trait_type is not None and validation.trait_type(trait_type) != definition.trait_type:
        kind = _KINDS[definition.entity_type]
        rows = await repository.trait_values(scope, kind).filter(definition_id=definition.id)
        for row in rows:
            try:
                converted = coerce_trait(trait_type, trait_json(definition.trait_type, stored_of(row)), definition.name)
            except InvalidInput as exc:
                raise InvalidInput(f"cannot change the type: a stored value does not fit ({exc.message})",
                                   field="trait_type") from None
            for field, value in asdict(converted).items():
                setattr(row, field, value)
        if rows:
            await kind.trait_model.bulk_update(rows, fields=list(VALUE_FIELDS))
        definition.trait_type = trait_type
    await definition.save()
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return definition


async def delete_trait_definition(scope: Scope, definition_id: str) -> TraitDefinition:
    """Delete a definition and its values; refused while a feature, condition or grant refers to it."""
    definition = await get_trait_definition(scope, definition_id)
    env = scope.environment_id
    users = {
        "feature": Feature.filter(environment_id=env, trait_definition_id=definition.id),
        "condition": Condition.filter(
            Q(trait_definition_id=definition.id) | Q(comparison_trait_definition_id=definition.id), environment_id=env
        ),
        "plan entitlement": PlanEntitlement.filter(environment_id=env, value_trait_id=definition.id),
        "company override": CompanyOverride.filter(environment_id=env, value_trait_id=definition.id),
    }
    for label, query in users.items():
        if await query.exists():
            raise InUse(f"trait {definition.name!r} is used by a {label}; remove that first", field="id")
    await definition.delete()
    await changes.record_change(env, changes.ENVIRONMENT, "*")
    return definition


@dataclass(frozen=True)
class TraitWrite:
    name: str
    trait_type: str
    value: object
    stored: StoredTrait
    definition: TraitDefinition | None  # None: first sight of this name, created on apply


async def plan_trait_writes(scope: Scope, kind: EntityKind, traits: Mapping[str, object]) -> list[TraitWrite]:
    """Type-check every value before anything is written (one query)."""
    if not traits:
        return []
    known = {d.name: d for d in await repository.definitions(scope, kind.name).filter(name__in=list(traits))}
    writes = []
    for name, value in traits.items():
        definition = known.get(name)
        trait_type = definition.trait_type if definition else infer_trait_type(value)
        writes.append(TraitWrite(name, trait_type, value, coerce_trait(trait_type, value, name), definition))
    return writes


async def _ensure_definitions(scope: Scope, kind: EntityKind, writes: Sequence[TraitWrite]) -> list[TraitWrite]:
    missing = [w for w in writes if w.definition is None]
    if not missing:
        return list(writes)
    await TraitDefinition.bulk_create(
        [TraitDefinition(environment_id=scope.environment_id, entity_type=kind.name, name=w.name,
                         trait_type=w.trait_type) for w in missing],
        ignore_conflicts=True,
    )
    created = {d.name: d for d in await repository.definitions(scope, kind.name).filter(
        name__in=[w.name for w in missing])}
    result = []
    for w in writes:
        if w.definition is not None:
            result.append(w)
            continue
        definition = created[w.name]
        # A concurrent writer may have created it with another type: re-check against the winner.
        stored = w.stored if definition.trait_type == w.trait_type else coerce_trait(
            definition.trait_type, w.value, w.name)
        result.append(TraitWrite(w.name, definition.trait_type, w.value, stored, definition))
    return result


async def apply_trait_writes(scope: Scope, kind: EntityKind, owner_id: str, writes: Sequence[TraitWrite]) -> None:
    """Upsert the values: one INSERT … ON CONFLICT for all traits of one entity."""
    if not writes:
        return
    writes = await _ensure_definitions(scope, kind, writes)
    rows = [
        kind.trait_model(environment_id=scope.environment_id, definition_id=w.definition.id,  # type: ignore[union-attr]
                         **{kind.owner_field: owner_id}, **asdict(w.stored))
        for w in writes
    ]
    await kind.trait_model.bulk_create(
        rows, on_conflict=[kind.owner_field, "definition_id"], update_fields=[*VALUE_FIELDS, "updated_at"]
    )
