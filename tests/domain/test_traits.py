from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.companies.traits import (
    StoredTrait,
    coerce_trait,
    comparable_type,
    infer_trait_type,
    render_trait,
    trait_json,
)
from domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "boolean"), (False, "boolean"), (3, "number"), (-7, "number"), (2.5, "string"), (2.0, "string"),
     ("42", "string"), ("true", "string"), ({"a": 1}, "string")],
)
def test_infer_trait_type(value: object, expected: str) -> None:
    assert infer_trait_type(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), (-5, -5), (4.0, 4), ("12", 12), (" -3 ", -3), ("7.0", 7), ("1e3", 1000), (2**63 - 1, 2**63 - 1)],
)
def test_number_accepts_integral_values(value: object, expected: int) -> None:
    assert coerce_trait("number", value, "seats") == StoredTrait(value_number=expected)
    assert coerce_trait("currency", value, "mrr") == StoredTrait(value_number=expected)


@pytest.mark.parametrize("value", ["abc", 2.5, "2.5", True, [1], {"a": 1}, float("nan"), float("inf"), 2**63, "",
                                   "NaN"])
def test_number_refuses_the_rest(value: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        coerce_trait("number", value, "seats")
    assert exc.value.message.startswith("trait 'seats' is a number; got ")
    assert exc.value.field == "traits"


def test_number_error_message_names_the_value() -> None:
    with pytest.raises(InvalidInput, match=r"^trait 'seats' is a number; got 'abc'$"):
        coerce_trait("number", "abc", "seats")


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False)])
def test_boolean(value: object, expected: bool) -> None:
    assert coerce_trait("boolean", value, "beta") == StoredTrait(value_bool=expected)


@pytest.mark.parametrize("value", [1, 0, "yes", "", None, 1.0])
def test_boolean_refuses_the_rest(value: object) -> None:
    with pytest.raises(InvalidInput, match="trait 'beta'"):
        coerce_trait("boolean", value, "beta")


def test_date_accepts_iso_dates_and_aware_timestamps() -> None:
    midnight = datetime(2026, 3, 18, tzinfo=UTC)
    assert coerce_trait("date", "2026-03-18", "renews").value_date == midnight
    assert coerce_trait("date", "2026-03-18T14:05:00Z", "renews").value_date == midnight.replace(hour=14, minute=5)
    shifted = coerce_trait("date", "2026-03-18T02:00:00+02:00", "renews").value_date
    assert shifted == midnight and shifted.tzinfo == UTC
    aware = datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    assert coerce_trait("date", aware, "renews").value_date == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2026-03-18T14:05:00", "18/03/2026", "soon", 1773842700, datetime(2026, 1, 1)])
def test_date_refuses_naive_and_malformed(value: object) -> None:
    with pytest.raises(InvalidInput, match="trait 'renews' is a date"):
        coerce_trait("date", value, "renews")


@pytest.mark.parametrize(("value", "expected"), [("acme", "acme"), (3, "3"), (2.5, "2.5"), (True, "true"), ("", "")])
def test_string_and_url_accept_text_and_stringify_numbers(value: object, expected: str) -> None:
    assert coerce_trait("string", value, "tier") == StoredTrait(value_text=expected)
    assert coerce_trait("url", value, "site") == StoredTrait(value_text=expected)


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_string_refuses_structures(value: object) -> None:
    with pytest.raises(InvalidInput, match="trait 'tier' is a string"):
        coerce_trait("string", value, "tier")


@pytest.mark.parametrize("trait_type", ["string", "number", "boolean", "date", "url", "currency"])
def test_null_is_refused(trait_type: str) -> None:
    with pytest.raises(InvalidInput, match="trait 'x' has no value"):
        coerce_trait(trait_type, None, "x")


def test_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown trait type"):
        coerce_trait("color", "red", "x")


def test_json_and_rendering() -> None:
    when = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)
    cases = [
        ("number", StoredTrait(value_number=12), 12, "12"),
        ("currency", StoredTrait(value_number=-1999), -1999, "-1999"),
        ("boolean", StoredTrait(value_bool=True), True, "true"),
        ("boolean", StoredTrait(value_bool=False), False, "false"),
        ("date", StoredTrait(value_date=when), "2026-03-18T14:05:00Z", "2026-03-18T14:05:00Z"),
        ("string", StoredTrait(value_text="pro"), "pro", "pro"),
        ("url", StoredTrait(value_text="https://a.example"), "https://a.example", "https://a.example"),
        ("number", StoredTrait(), None, ""),
    ]
    for trait_type, stored, json_value, rendered in cases:
        assert trait_json(trait_type, stored) == json_value
        assert render_trait(trait_type, stored) == rendered


def test_rendered_values_parse_back_through_coerce() -> None:
    for trait_type, value in [("number", "41"), ("boolean", True), ("date", "2026-03-18"), ("string", "x")]:
        stored = coerce_trait(trait_type, value, "t")
        assert coerce_trait(trait_type, render_trait(trait_type, stored), "t") == stored


def test_comparable_types() -> None:
    assert [comparable_type(t) for t in ("boolean", "number", "currency", "date", "string", "url")] == [
        "bool", "int", "int", "date", "string", "string"]
