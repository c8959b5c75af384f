from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.checks.types import FeatureUsageNode, FlagCheckNode, PreflightInput
from api.graphql.context import Info
from api.graphql.permissions import SecretKey
from domain.checks import service
from domain.checks.inputs import parse_keys, parse_preflight, require_context
from domain.rules import Preflight


def _preflight(value: PreflightInput | None) -> Preflight | None:
    if value is None:
        return None
    raw: dict[str, Any] = {"usage": value.usage}
    if value.event_subtype is not None:
        raw["event_usage"] = {"event_subtype": value.event_subtype, "quantity": value.event_quantity or 1}
    return parse_preflight(raw)


def _subject(company: JSON | None, user: JSON | None) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    company_keys, user_keys = parse_keys(company, "company"), parse_keys(user, "user")
    require_context(company_keys, user_keys)
    return company_keys, user_keys


@strawberry.type
class CheckQueries:
    @strawberry.field(description="Check one flag for a company and/or user, given by their keys.")
    async def check_flag(
        self, info: Info, key: str, company: JSON | None = None, user: JSON | None = None,
        preflight: PreflightInput | None = None,
    ) -> FlagCheckNode:
        company_keys, user_keys = _subject(company, user)
        result = await service.check_flag(info.context.scope, key, company_keys, user_keys, _preflight(preflight))
        return FlagCheckNode.from_result(result)

    @strawberry.field(description="Check every flag (or the named ones) for a company and/or user.")
    async def check_flags(
        self, info: Info, company: JSON | None = None, user: JSON | None = None, keys: list[str] | None = None,
        preflight: PreflightInput | None = None,
    ) -> list[FlagCheckNode]:
        company_keys, user_keys = _subject(company, user)
        results = await service.check_flags(info.context.scope, company_keys, user_keys, _preflight(preflight), keys)
        return [FlagCheckNode.from_result(r) for r in results]

    @strawberry.field(permission_classes=[SecretKey],
                      description="A company's usage and allocation of every feature, for the entitlement's period.")
    async def company_usage(self, info: Info, company_id: str) -> list[FeatureUsageNode]:
        return [FeatureUsageNode.from_usage(u) for u in await service.company_usage(info.context.scope, company_id)]
