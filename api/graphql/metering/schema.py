from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.errors import MutationError
from api.graphql.metering.types import (
    EventInput,
    EventNode,
    EventResultNode,
    EventStatus,
    EventType,
    EventUsageNode,
    MetricPeriod,
    MonthReset,
    SendEventsPayload,
    UsagePointNode,
)
from api.graphql.pagination import Connection, paginate
from api.graphql.permissions import SecretKey
from api.rest.capture import MAX_BATCH, submit
from domain.errors import DomainError, InvalidInput
from domain.metering import usage
from domain.metering.ingest import IncomingEvent


@strawberry.type
class MeteringQueries:
    @strawberry.field(
        permission_classes=[SecretKey],
        description="Usage of an event name by a company or a user in the window of `period` containing `at` "
        "(default now).",
    )
    async def event_usage(
        self, info: Info, event_name: str, company_id: str | None = None, user_id: str | None = None,
        period: MetricPeriod = MetricPeriod.ALL_TIME, month_reset: MonthReset = MonthReset.FIRST_OF_MONTH,
        at: datetime | None = None,
    ) -> EventUsageNode:
        result = await usage.event_usage(
            info.context.scope, event_name, company_id=company_id, user_id=user_id, period=period.value,
            month_reset=month_reset.value, at=at,
        )
        return EventUsageNode.from_usage(result)

    @strawberry.field(
        permission_classes=[SecretKey],
        description="Daily usage (UTC days, zero-filled) of an event name between two dates, for charts.",
    )
    async def usage_time_series(
        self, info: Info, event_name: str, from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime, company_id: str | None = None, user_id: str | None = None,
    ) -> list[UsagePointNode]:
        points = await usage.usage_time_series(
            info.context.scope, event_name, from_, to, company_id=company_id, user_id=user_id
        )
        return [UsagePointNode.from_daily(p) for p in points]

    @strawberry.field(permission_classes=[SecretKey], description="Stored events, newest first.")
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None, status: EventStatus | None = None,
        event_type: str | None = None, event_name: str | None = None, company_id: str | None = None,
        user_id: str | None = None,
    ) -> Connection[EventNode]:
        query = usage.event_list(
            info.context.scope, status=status.value if status else None, event_type=event_type,
            event_name=event_name, company_id=company_id, user_id=user_id,
        )
        return await paginate(query, first, after, EventNode.from_model)


@strawberry.type
class MeteringMutations:
    @strawberry.mutation(
        description="Send a batch of identify/track events (at most 100). Open to publishable keys; negative "
        "quantities, backfill and trusted client clocks need a secret key. Invalid events are stored as "
        "failed and reported in `results`; repeats of a known idempotency key come back as DUPLICATE.",
    )
    async def send_events(self, info: Info, events: list[EventInput]) -> SendEventsPayload:
        if len(events) > MAX_BATCH:
            return SendEventsPayload(errors=[MutationError.from_exception(InvalidInput(
                f"batch too large: at most {MAX_BATCH} events", field="events"))])
        scope = info.context.scope
        incoming = [
            IncomingEvent(
                scope, event.type.value, event.body, event.idempotency_key, event.sent_at,
                event.trusted_client_clock, event.backfill, "graphql",
            )
            for event in events
        ]
        try:
            results = await submit(incoming) if incoming else []
        except DomainError as exc:
            return SendEventsPayload(errors=[MutationError.from_exception(exc)])
        return SendEventsPayload(results=[EventResultNode.from_result(r) for r in results])


__all__ = ["EventType", "MeteringMutations", "MeteringQueries"]
