"""Flag evaluation (§2.3, §2.4, §2.7, §2.14) plus deterministic percentage rollout.

``prepare_rules`` groups, orders and compiles a flag's candidate rules once; the cache layer
stores the result per flag and ``evaluate`` then only walks precompiled steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import NamedTuple

import mmh3

from domain.rules.conditions import ConditionFn, compile_condition
from domain.rules.types import (
    ENTITLEMENT_RULE_TYPES,
    REASON_COMPANY_NOT_FOUND,
    REASON_NO_CONTEXT,
    REASON_NO_RULES,
    REASON_USER_NOT_FOUND,
    RULE_TYPE_ORDER,
    UNCONDITIONAL_RULE_TYPES,
    CompanyContext,
    Evaluation,
    Preflight,
    Rule,
    RuleType,
    UserContext,
)

Matcher = Callable[[CompanyContext | None, UserContext | None, Preflight | None], bool]


class _Step(NamedTuple):
    rule: Rule
    expires_at: datetime | None
    match: Matcher | None  # None: matches unconditionally
    result: Evaluation  # shared, immutable result returned on match
    rollout: tuple[int, str | None] | None  # (percentage, salt) for a partial rollout


class PreparedRules(tuple[Rule, ...]):
    """A flag's candidate rules in evaluation order, with their compiled matchers.

    Order: groups in ``RULE_TYPE_ORDER``; ``standard`` by (priority, id); the four entitlement
    groups stable-sorted with ``value=True`` first; other groups keep input order.
    """

    steps: tuple[_Step, ...]

    def __new__(cls, rules: Iterable[Rule] = (), flag_id: str | None = None) -> PreparedRules:
        ordered = order_rules(r for r in rules if flag_id is None or r.flag_id in (None, flag_id))
        self = super().__new__(cls, ordered)
        self.steps = tuple(_step(r) for r in ordered)
        return self

    def __reduce__(self) -> tuple[type[PreparedRules], tuple[tuple[Rule, ...]]]:
        # Matchers are closures: rebuild them instead of pickling them.
        return (PreparedRules, (tuple(self),))


def prepare_rules(rules: Iterable[Rule], flag_id: str | None = None) -> PreparedRules:
    """Order and compile rules once. With ``flag_id``, rules bound to another flag are dropped."""
    if isinstance(rules, PreparedRules) and flag_id is None:
        return rules
    return PreparedRules(rules, flag_id)


def order_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    groups: dict[RuleType, list[Rule]] = {t: [] for t in RULE_TYPE_ORDER}
    for rule in rules:
        group = groups.get(rule.rule_type)
        if group is not None:
            group.append(rule)
    groups["standard"].sort(key=lambda r: (r.priority, r.id))
    for rule_type in ENTITLEMENT_RULE_TYPES:
        groups[rule_type].sort(key=lambda r: not r.value)
    return tuple(chain.from_iterable(groups[t] for t in RULE_TYPE_ORDER))


def matched_reason(rule: Rule) -> str:
    return f'Matched {rule.rule_type.replace("_", " ")} rule "{rule.name}" ({rule.id})'


def compile_rule(rule: Rule) -> Matcher | None:
    """The rule's condition matcher (§2.4), or None when it matches unconditionally.

    Rollout is not part of it: it needs the flag key and is applied by ``evaluate``.
    """
    if rule.rule_type in UNCONDITIONAL_RULE_TYPES:
        return None
    entitlement = rule.rule_type in ENTITLEMENT_RULE_TYPES
    conds = tuple(compile_condition(c, entitlement_rule=entitlement) for c in rule.conditions)
    groups = tuple(tuple(compile_condition(c, entitlement_rule=entitlement) for c in g) for g in rule.condition_groups)
    return _combine(conds, groups)


def _combine(conds: tuple[ConditionFn, ...], groups: tuple[tuple[ConditionFn, ...], ...]) -> Matcher | None:
    if not groups:
        if not conds:
            return None
        if len(conds) == 1:
            return conds[0]
        if len(conds) == 2:
            first, second = conds
            return lambda c, u, p: first(c, u, p) and second(c, u, p)

    def match(c: CompanyContext | None, u: UserContext | None, p: Preflight | None) -> bool:
        for fn in conds:
            if not fn(c, u, p):
                return False
        # Each group is an OR; an empty group never matches.
        return all(any(fn(c, u, p) for fn in group) for group in groups)

    return match


def _never(_c: CompanyContext | None, _u: UserContext | None, _p: Preflight | None) -> bool:
    return False


def _step(rule: Rule) -> _Step:
    match = compile_rule(rule)
    rollout: tuple[int, str | None] | None = None
    pct = rule.rollout_percentage
    if rule.rule_type == "standard" and pct is not None and pct < 100:
        if pct <= 0:
            match = _never
        else:
            rollout = (pct, rule.rollout_salt)
    return _Step(rule, rule.expires_at, match, Evaluation(rule.value, matched_reason(rule), rule), rollout)


def rollout_bucket(salt: str, subject_id: str) -> int:
    """Stable bucket 0..99; a subject in bucket b is inside every rollout with percentage > b."""
    return mmh3.hash(f"{salt}:{subject_id}", signed=False) % 100


def _in_rollout(
    rollout: tuple[int, str | None], flag_key: str, company: CompanyContext | None, user: UserContext | None
) -> bool:
    if company is not None:
        subject = company.id
    elif user is not None:
        subject = user.id
    else:
        return False
    pct, salt = rollout
    return rollout_bucket(salt or flag_key, subject) < pct


_FALLBACKS = {
    (value, reason): Evaluation(value, reason, None)
    for value in (False, True)
    for reason in (REASON_NO_RULES, REASON_NO_CONTEXT, REASON_COMPANY_NOT_FOUND, REASON_USER_NOT_FOUND)
}


def _missing_reason(company_missing: bool, user_missing: bool) -> str | None:
    if company_missing:
        return REASON_COMPANY_NOT_FOUND
    if user_missing:
        return REASON_USER_NOT_FOUND
    return None


def evaluate(
    *,
    flag_key: str,
    flag_id: str,
    default_value: bool,
    rules: Sequence[Rule] | PreparedRules,
    company: CompanyContext | None,
    user: UserContext | None,
    now: datetime,
    preflight: Preflight | None = None,
    company_missing: bool = False,
    user_missing: bool = False,
) -> Evaluation:
    """Evaluate one flag: the first matching rule in group order wins (§2.3).

    ``rules`` is every candidate rule of the flag, ideally already a ``PreparedRules``; a raw
    sequence is prepared on the fly (dropping rules bound to another ``flag_id``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    prepared = rules if type(rules) is PreparedRules else PreparedRules(rules, flag_id)
    for rule, expires_at, match, result, rollout in prepared.steps:
        if expires_at is not None and now >= expires_at:
            continue
        if match is not None and not match(company, user, preflight):
            continue
        if rollout is not None and not _in_rollout(rollout, flag_key, company, user):
            continue
        if (company_missing or user_missing) and rule.rule_type == "default":
            reason = _missing_reason(company_missing, user_missing)
            return Evaluation(rule.value, reason or result.reason, rule)
        return result
    reason = _missing_reason(company_missing, user_missing)
    if reason is None:
        reason = REASON_NO_CONTEXT if company is None and user is None else REASON_NO_RULES
    return _FALLBACKS[(bool(default_value), reason)]
