"""A DateTime scalar that refuses naive datetimes (every timestamp in plangate is aware UTC)."""

from datetime import datetime

import strawberry
from strawberry.schema.types.scalar import ScalarDefinition

from domain.errors import InvalidInput
from domain.timeutil import isoformat, parse_timestamp


def _parse(value: object) -> datetime:
    try:
        return parse_timestamp(value, "DateTime")
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


AwareDateTime = strawberry.scalar(
    name="DateTime",
    description="RFC 3339 timestamp with a timezone (e.g. 2026-03-18T14:05:00Z). Naive values are refused.",
    serialize=isoformat,
    parse_value=_parse,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: AwareDateTime}
