"""Features. Each feature owns one flag with the same key (1:1); deleting the feature deletes its flag,
the flag's rules, its plan entitlements and its company overrides."""

from dataclasses import dataclass

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.models import FEATURE_TYPES, Feature, Flag
from domain.catalog.validation import UNSET, Unset
from domain.companies.models import TraitDefinition
from domain.entitlements.models import CompanyOverride
from domain.errors import InvalidInput, KeyConflict
from domain.scope import Scope


@dataclass(frozen=True, slots=True)
class _UsageTrait:
    """The usage trait of a trait feature: an existing definition, or a name to create on write."""

    definition: TraitDefinition | None
    name: str

    async def resolve(self, scope: Scope) -> TraitDefinition:
        return self.definition or await repo.get_or_create_company_trait(scope, self.name)


async def _usage_trait(scope: Scope, trait_id: str | None, trait_name: str | None) -> _UsageTrait:
    if trait_id and trait_name:
        raise InvalidInput("give trait_id or trait_name, not both", field="trait_id")
    if trait_id:
        definition = await repo.get_trait_definition(scope, trait_id, "trait_id")
        return _UsageTrait(repo.require_usage_trait(definition, "trait_id"), definition.name)
    if not trait_name:
        raise InvalidInput("a trait feature needs trait_id or trait_name (its usage trait)", field="trait_id")
    trait_name = v.name(trait_name, "trait_name")
    existing = await repo.company_trait_by_name(scope, trait_name)
    return _UsageTrait(repo.require_usage_trait(existing, "trait_name") if existing else None, trait_name)


def _check_kind_fields(feature_type: str, event_subtype: str | None, has_trait: bool) -> str | None:
    if feature_type == "event":
        if event_subtype is None:
            raise InvalidInput("an event feature needs event_subtype (the event name it meters)", field="event_subtype")
        return v.event_name(event_subtype)
    if event_subtype is not None:
        raise InvalidInput("event_subtype only applies to event features", field="event_subtype")
    if feature_type != "trait" and has_trait:
        raise InvalidInput("trait_id and trait_name only apply to trait features", field="trait_id")
    return None


async def create_feature(
    scope: Scope,
    *,
    name: str,
    feature_type: str,
    description: str = "",
    key: str | None = None,
    event_subtype: str | None = None,
    trait_id: str | None = None,
    trait_name: str | None = None,
    icon: str | None = None,
    lifecycle_phase: str | None = None,
    plural_name: str | None = None,
    singular_name: str | None = None,
) -> Feature:
    """Create a feature and its flag. `key` (the flag key) defaults to the slugified name. A trait
    feature names its usage trait by `trait_id`, or by `trait_name` (created as a company number trait
    when missing)."""
    scope.require_write("creating a feature")
    name = v.name(name)
    feature_type = v.choice(feature_type, FEATURE_TYPES, "feature_type")
    description = v.text(description, "description")
    key = v.key(key if key is not None else v.slugify(name))
    event_subtype = _check_kind_fields(feature_type, event_subtype, bool(trait_id or trait_name))
    usage = await _usage_trait(scope, trait_id, trait_name) if feature_type == "trait" else None
    extras = _extras(icon=icon, lifecycle_phase=lifecycle_phase, plural_name=plural_name, singular_name=singular_name)
    if await repo.key_taken(scope, key):
        raise KeyConflict(f"a flag with key {key!r} already exists in this environment", field="key")

    trait = await usage.resolve(scope) if usage else None
    feature = await Feature.create(
        environment_id=scope.environment_id, name=name, description=description, feature_type=feature_type,
        event_subtype=event_subtype, trait_definition=trait, **extras,
    )
    await Flag.create(environment_id=scope.environment_id, key=key, name=name, description=description, feature=feature)
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return feature


def _extras(**values: str | Unset | None) -> dict[str, str | None]:
    return {field: v.optional_text(value, field) for field, value in values.items() if value is not UNSET}


async def update_feature(
    scope: Scope,
    feature_id: str,
    *,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    key: str | Unset = UNSET,
    feature_type: str | Unset = UNSET,
    event_subtype: str | Unset | None = UNSET,
    trait_id: str | Unset | None = UNSET,
    trait_name: str | Unset | None = UNSET,
    icon: str | Unset | None = UNSET,
    lifecycle_phase: str | Unset | None = UNSET,
    plural_name: str | Unset | None = UNSET,
    singular_name: str | Unset | None = UNSET,
) -> Feature:
    """Change the given fields. `feature_type` may be sent but not changed; the flag follows the
    feature's key, name and description."""
    scope.require_write("updating a feature")
    feature = await repo.get_feature(scope, feature_id)
    flag = await repo.flag_of_feature(scope, feature.id)
    if feature_type is not UNSET and feature_type != feature.feature_type:
        raise InvalidInput(
            f"feature_type cannot change after creation (this feature is {feature.feature_type})", field="feature_type"
        )
    updates: dict[str, object] = _extras(
        icon=icon, lifecycle_phase=lifecycle_phase, plural_name=plural_name, singular_name=singular_name
    )
    flag_updates: dict[str, object] = {}
    if name is not UNSET:
        updates["name"] = flag_updates["name"] = v.name(name)
    if description is not UNSET:
        updates["description"] = flag_updates["description"] = v.text(description, "description")
    if key is not UNSET and key != flag.key:
        flag_updates["key"] = new_key = v.key(key)
        if await repo.key_taken(scope, new_key, except_flag_id=flag.id):
            raise KeyConflict(f"a flag with key {key!r} already exists in this environment", field="key")
    if event_subtype is not UNSET:
        updates["event_subtype"] = _check_kind_fields(feature.feature_type, event_subtype, False)
    usage: _UsageTrait | None = None
    if trait_id is not UNSET or trait_name is not UNSET:
        if feature.feature_type != "trait":
            raise InvalidInput("trait_id and trait_name only apply to trait features", field="trait_id")
        usage = await _usage_trait(
            scope, None if trait_id is UNSET else trait_id, None if trait_name is UNSET else trait_name
        )
    if usage is not None:
        updates["trait_definition"] = await usage.resolve(scope)
    if updates:
        await feature.update_from_dict(updates).save()
    if flag_updates:
        await flag.update_from_dict(flag_updates).save()
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return feature


async def delete_feature(scope: Scope, feature_id: str) -> Feature:
    """Delete a feature with its flag, rules, plan entitlements and company overrides."""
    scope.require_write("deleting a feature")
    feature = await repo.get_feature(scope, feature_id)
    company_ids = await repo.scoped(CompanyOverride, scope).filter(feature_id=feature.id).values_list(
        "company_id", flat=True
    )
    await feature.delete()  # the database cascades to the flag, its rules, entitlements and overrides
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    await changes.record_changes(scope.environment_id, changes.COMPANY, company_ids)  # type: ignore[arg-type]
    return feature
