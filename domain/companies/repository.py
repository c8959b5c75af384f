"""Scoped querysets for companies and users. Companies and users share their key, trait and upsert
rules, so the services work on an `EntityKind` that names the models of one side."""

from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet

from domain.cache import changes
from domain.companies.models import (
    Company,
    CompanyKey,
    CompanyMembership,
    CompanyTrait,
    TraitDefinition,
    User,
    UserKey,
    UserTrait,
)
from domain.scope import Scope


@dataclass(frozen=True)
class EntityKind:
    name: str  # "company" | "user": also the TraitDefinition.entity_type
    model: Any  # Company | User
    key_model: Any  # CompanyKey | UserKey
    trait_model: Any  # CompanyTrait | UserTrait
    owner_field: str  # the foreign key column of keys and traits: company_id | user_id
    id_prefix: str
    change_scope: str


COMPANY = EntityKind("company", Company, CompanyKey, CompanyTrait, "company_id", "comp_", changes.COMPANY)
USER = EntityKind("user", User, UserKey, UserTrait, "user_id", "user_", changes.USER)


def entities(scope: Scope, kind: EntityKind) -> QuerySet:
    return kind.model.filter(environment_id=scope.environment_id)


def keys(scope: Scope, kind: EntityKind) -> QuerySet:
    return kind.key_model.filter(environment_id=scope.environment_id)


def trait_values(scope: Scope, kind: EntityKind) -> QuerySet:
    return kind.trait_model.filter(environment_id=scope.environment_id)


def companies(scope: Scope) -> QuerySet[Company]:
    return Company.filter(environment_id=scope.environment_id)


def users(scope: Scope) -> QuerySet[User]:
    return User.filter(environment_id=scope.environment_id)


def memberships(scope: Scope) -> QuerySet[CompanyMembership]:
    return CompanyMembership.filter(environment_id=scope.environment_id)


def definitions(scope: Scope, entity_type: str | None = None) -> QuerySet[TraitDefinition]:
    query = TraitDefinition.filter(environment_id=scope.environment_id)
    return query.filter(entity_type=entity_type) if entity_type else query
