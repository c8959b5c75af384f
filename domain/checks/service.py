"""Flag checks: may this company (and user) use this feature now, and why?

Never aggregates events and never touches the database on a warm cache: keys resolve through the key
resolver, snapshots come from the in-memory cache, evaluation is the pure rules engine."""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from domain.catalog.models import Flag
from domain.checks.cache import snapshots
from domain.checks.entitlement import Usage, deprecated_fields, feature_usage
from domain.checks.snapshot import CompanySnapshot, EnvironmentSnapshot, FlagEntry, UserSnapshot
from domain.companies.resolver import resolver
from domain.rules import REASON_FLAG_NOT_FOUND, Preflight, evaluate
from domain.rules.types import Evaluation
from domain.scope import Scope
from domain.timeutil import utcnow

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class CheckResult:
    flag_key: str
    value: bool
    reason: str
    flag_id: str | None = None
    rule_id: str | None = None
    rule_type: str | None = None
    company_id: str | None = None
    user_id: str | None = None
    entitlement: Usage | None = None
    deprecated: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """Schematic's CheckFlagResponseData."""
        return {
            "flag": self.flag_key, "value": self.value, "reason": self.reason, "flag_id": self.flag_id,
            "rule_id": self.rule_id, "rule_type": self.rule_type, "company_id": self.company_id,
            "user_id": self.user_id, "error": None,
            "entitlement": self.entitlement.to_wire() if self.entitlement else None,
            **self.deprecated,
        }


@dataclass(slots=True)
class Subject:
    company: CompanySnapshot | None
    user: UserSnapshot | None
    company_missing: bool
    user_missing: bool


class CheckRecorder:
    """Batches `Flag.last_checked_at` writes off the hot path (one UPDATE per flush)."""

    def __init__(self) -> None:
        self._checked: dict[str, datetime] = {}

    def record(self, flag_id: str, at: datetime) -> None:
        self._checked[flag_id] = at

    async def flush(self) -> None:
        if not self._checked:
            return
        checked, self._checked = self._checked, {}
        latest = max(checked.values())
        await Flag.filter(id__in=list(checked)).update(last_checked_at=latest)


recorder = CheckRecorder()


async def _subject(scope: Scope, env: EnvironmentSnapshot, company_keys: dict[str, str] | None,
                   user_keys: dict[str, str] | None) -> Subject:
    company = user = None
    company_missing = user_missing = False
    if company_keys:
        company_id = await resolver.company_id(scope, company_keys)
        company = await snapshots.company(env, company_id) if company_id else None
        company_missing = company is None
    if user_keys:
        user_id = await resolver.user_id(scope, user_keys)
        user = await snapshots.user(scope.environment_id, user_id) if user_id else None
        user_missing = user is None
    return Subject(company, user, company_missing, user_missing)


def _evaluate(flag: FlagEntry, subject: Subject, now: datetime, preflight: Preflight | None) -> CheckResult:
    company = subject.company
    evaluation: Evaluation = evaluate(
        flag_key=flag.key, flag_id=flag.id, default_value=flag.default_value,
        rules=company.rules_for(flag) if company else flag.client_rules,
        company=company.context if company else None,
        user=subject.user.context if subject.user else None,
        now=now, preflight=preflight,
        company_missing=subject.company_missing, user_missing=subject.user_missing,
    )
    recorder.record(flag.id, now)
    return CheckResult(
        flag_key=flag.key, value=evaluation.value, reason=evaluation.reason, flag_id=flag.id,
        rule_id=evaluation.rule_id, rule_type=evaluation.rule_type,
        company_id=company.id if company else None, user_id=subject.user.id if subject.user else None,
        entitlement=feature_usage(flag, company, now) if company else None,
        deprecated=deprecated_fields(evaluation.rule, company, now),
    )


def _not_found(flag_key: str, subject: Subject) -> CheckResult:
    return CheckResult(
        flag_key=flag_key, value=False, reason=REASON_FLAG_NOT_FOUND,
        company_id=subject.company.id if subject.company else None,
        user_id=subject.user.id if subject.user else None,
        deprecated=deprecated_fields(None, None, utcnow()),
    )


async def check_flag(scope: Scope, flag_key: str, company_keys: dict[str, str] | None,
                     user_keys: dict[str, str] | None, preflight: Preflight | None = None) -> CheckResult:
    env = await snapshots.environment(scope.environment_id)
    subject = await _subject(scope, env, company_keys, user_keys)
    flag = env.flags_by_key.get(flag_key)
    if flag is None:
        return _not_found(flag_key, subject)
    return _evaluate(flag, subject, utcnow(), preflight)


async def check_flags(scope: Scope, company_keys: dict[str, str] | None, user_keys: dict[str, str] | None,
                      preflight: Preflight | None = None, flag_keys: list[str] | None = None) -> list[CheckResult]:
    """Every flag of the environment (or the named ones), for one subject."""
    env = await snapshots.environment(scope.environment_id)
    subject = await _subject(scope, env, company_keys, user_keys)
    now = utcnow()
    if flag_keys is None:
        return [_evaluate(flag, subject, now, preflight) for flag in env.flags_by_key.values()]
    return [
        _evaluate(flag, subject, now, preflight) if (flag := env.flags_by_key.get(key)) else _not_found(key, subject)
        for key in flag_keys
    ]


async def company_usage(scope: Scope, company_id: str) -> list[Usage]:
    """The company's usage and allocation of every feature it is entitled to."""
    env = await snapshots.environment(scope.environment_id)
    company = await snapshots.company(env, company_id)
    if company is None:
        return []
    now = utcnow()
    found = (feature_usage(flag, company, now) for flag in env.flags_by_feature.values())
    return [usage for usage in found if usage is not None]


async def run_recorder(interval: float = 5.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await recorder.flush()
        except Exception:
            log.warning("flag last_checked_at flush failed", exc_info=True)
