from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.graphql.errors import MutationError
from api.graphql.scalars import BigInt
from domain.metering.ingest import EventResult
from domain.metering.models import Event
from domain.metering.usage import DailyUsage, PeriodUsage


@strawberry.enum
class EventType(Enum):
    IDENTIFY = "identify"
    TRACK = "track"


@strawberry.enum
class EventStatus(Enum):
    PROCESSED = "processed"
    FAILED = "failed"


@strawberry.enum
class EventResultStatus(Enum):
    PROCESSED = "processed"
    FAILED = "failed"
    DUPLICATE = "duplicate"


@strawberry.enum
class MetricPeriod(Enum):
    ALL_TIME = "all_time"
    CURRENT_DAY = "current_day"
    CURRENT_WEEK = "current_week"
    CURRENT_MONTH = "current_month"


@strawberry.enum
class MonthReset(Enum):
    FIRST_OF_MONTH = "first_of_month"
    BILLING_CYCLE = "billing_cycle"


@strawberry.input(description="One event, as the capture API takes it (`type` + `body`).")
class EventInput:
    type: EventType
    body: JSON = strawberry.field(
        description="identify: {keys, name, traits, company {keys, name, traits}}; "
        "track: {event, company, user, quantity, traits}."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeats of a key already seen by the environment are acknowledged, not counted."
    )
    sent_at: datetime | None = None
    trusted_client_clock: bool | None = strawberry.field(
        default=None, description="Count the event at sentAt (secret keys; at most 34 days back)."
    )
    backfill: bool | None = strawberry.field(
        default=None, description="Historical import at sentAt (secret keys; at most 365 days back)."
    )


@strawberry.type(name="EventResult", description="What became of one sent event.")
class EventResultNode:
    status: EventResultStatus
    idempotency_key: str
    event_id: str | None
    error: str | None

    @classmethod
    def from_result(cls, result: EventResult) -> "EventResultNode":
        return cls(
            status=EventResultStatus(result.status), idempotency_key=result.idempotency_key,
            event_id=result.event_id, error=result.error,
        )


@strawberry.type
class SendEventsPayload:
    results: list[EventResultNode] = strawberry.field(default_factory=list)
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type(name="Event", description="A stored event and how its processing ended.")
class EventNode:
    id: strawberry.ID
    event_type: str
    event_name: str | None
    raw_event_name: str | None
    company_id: str | None
    user_id: str | None
    quantity: BigInt
    body: JSON
    idempotency_key: str
    source: str
    status: EventStatus
    error: str | None
    backfill: bool
    captured_at: datetime
    received_at: datetime

    @classmethod
    def from_model(cls, event: Event) -> "EventNode":
        return cls(
            id=strawberry.ID(event.id), event_type=event.event_type, event_name=event.event_name,
            raw_event_name=event.raw_event_name, company_id=event.company_id,  # type: ignore[attr-defined]
            user_id=event.user_id, quantity=event.quantity, body=event.body,  # type: ignore[attr-defined]
            idempotency_key=event.idempotency_key, source=event.source, status=EventStatus(event.status),
            error=event.error, backfill=event.backfill, captured_at=event.captured_at, received_at=event.received_at,
        )


@strawberry.type(name="EventUsage", description="Usage of one event name in one window of one period.")
class EventUsageNode:
    event_name: str
    entity_id: str
    period: MetricPeriod
    month_reset: MonthReset
    window_start: datetime | None = strawberry.field(description="Null for allTime.")
    reset_at: datetime | None = strawberry.field(description="When the window ends; null for allTime.")
    value: BigInt

    @classmethod
    def from_usage(cls, usage: PeriodUsage) -> "EventUsageNode":
        return cls(
            event_name=usage.event_name, entity_id=usage.entity_id, period=MetricPeriod(usage.period),
            month_reset=MonthReset(usage.month_reset), window_start=usage.window_start, reset_at=usage.reset_at,
            value=usage.value,
        )


@strawberry.type(name="UsagePoint", description="Usage on one UTC day.")
class UsagePointNode:
    day: datetime
    value: BigInt

    @classmethod
    def from_daily(cls, point: DailyUsage) -> "UsagePointNode":
        return cls(day=point.day, value=point.value)
