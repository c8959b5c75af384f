"""The change feed: a process applies its own changes at commit and does not apply them again when its
poller reads them back; changes written by other processes are applied when polled."""

from collections.abc import Iterator

import pytest

from domain.cache import changes
from domain.cache.changes import ChangeFeedPoller
from domain.cache.models import CacheChange
from domain.db import unit_of_work
from domain.scope import Scope
from domain.timeutil import utcnow

Seen = list[tuple[str, str]]


@pytest.fixture
def applied() -> Iterator[Seen]:
    seen: Seen = []

    def listener(environment_id: str, scope: str, ref_id: str) -> None:
        seen.append((scope, ref_id))

    changes.subscribe(listener)
    yield seen
    changes.unsubscribe(listener)


async def test_own_changes_are_applied_once_and_others_when_polled(scope: Scope, applied: Seen) -> None:
    env = scope.environment_id
    async with unit_of_work():
        await changes.record_change(env, changes.COMPANY, "comp_own")
        assert applied == []  # not before the commit
    assert applied == [(changes.COMPANY, "comp_own")]

    applied.clear()
    poller = ChangeFeedPoller(interval=0.25)  # a fresh poller of this process: it has seen nothing yet
    await poller.poll_once()
    assert (changes.COMPANY, "comp_own") not in applied

    # another process changes the same thing again, and something new
    await CacheChange.filter(environment_id=env, ref_id="comp_own").update(changed_at=utcnow())
    await CacheChange.create(environment_id=env, scope=changes.COMPANY, ref_id="comp_other", changed_at=utcnow())
    await poller.poll_once()
    assert sorted(applied) == [(changes.COMPANY, "comp_other"), (changes.COMPANY, "comp_own")]

    applied.clear()
    await poller.poll_once()
    assert applied == []  # each change once


async def test_rolled_back_changes_are_not_applied(scope: Scope, applied: Seen) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work():
            await changes.record_change(scope.environment_id, changes.COMPANY, "comp_gone")
            raise RuntimeError("rollback")
    await ChangeFeedPoller(interval=0.25).poll_once()
    assert (changes.COMPANY, "comp_gone") not in applied
