"""A DateTime scalar that refuses naive datetimes (every timestamp in plangate is aware UTC)."""

from datetime import datetime
from typing import NewType

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

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

BigInt = NewType("BigInt", int)
"""Limits, usage, counters and money in minor units: 64-bit, where GraphQL `Int` stops at 2^31 - 1."""


def _parse_bigint(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"BigInt must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"BigInt must be an integer, got {value!r}") from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"BigInt {number} is outside the 64-bit range")
    return number


BigIntDefinition = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer (JSON number): limits, usage, counters, money in minor units.",
    serialize=int,
    parse_value=_parse_bigint,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: AwareDateTime, BigInt: BigIntDefinition}
