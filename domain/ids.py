"""Public identifiers: `<prefix>_<ULID>`, sortable by creation time.

One named function per prefix, because migrations record field defaults by import path."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def new_feature_id() -> str:
    return new_id("feat")


def new_flag_id() -> str:
    return new_id("flag")


def new_rule_id() -> str:
    return new_id("rule")


def new_condition_group_id() -> str:
    return new_id("cgrp")


def new_condition_id() -> str:
    return new_id("cond")


def new_plan_id() -> str:
    return new_id("plan")


def new_plan_entitlement_id() -> str:
    return new_id("pent")


def new_company_id() -> str:
    return new_id("comp")


def new_user_id() -> str:
    return new_id("user")


def new_company_key_id() -> str:
    return new_id("ckey")


def new_user_key_id() -> str:
    return new_id("ukey")


def new_trait_definition_id() -> str:
    return new_id("trait")


def new_company_trait_id() -> str:
    return new_id("ctrait")


def new_user_trait_id() -> str:
    return new_id("utrait")


def new_membership_id() -> str:
    return new_id("cmem")


def new_event_id() -> str:
    return new_id("evt")


def new_company_plan_id() -> str:
    return new_id("cplan")


def new_company_override_id() -> str:
    return new_id("covr")


def new_account_id() -> str:
    return new_id("acct")


def new_environment_id() -> str:
    return new_id("env")


def new_api_key_id() -> str:
    return new_id("apikey")
