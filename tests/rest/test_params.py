"""Query and body parsing of the management REST routes (product model §7.2)."""

import pytest
from starlette.datastructures import QueryParams

from api.rest import params as p
from domain.errors import InvalidInput
from domain.settings import get_settings


def test_bracket_keys_json_keys_and_bare_pairs() -> None:
    assert p.lookup_keys(QueryParams("keys%5Bid%5D=acme&keys%5Borg%5D=o1")) == {"id": "acme", "org": "o1"}
    assert p.lookup_keys(QueryParams('keys={"id":"acme"}')) == {"id": "acme"}
    assert p.lookup_keys(QueryParams("id=acme")) == {"id": "acme"}
    with pytest.raises(InvalidInput, match="keys to look up"):
        p.lookup_keys(QueryParams(""))
    with pytest.raises(InvalidInput, match="nested or empty"):
        p.query_object(QueryParams("keys%5B%5D=x"), "keys")
    with pytest.raises(InvalidInput, match="string value"):
        p.query_object(QueryParams('keys={"id":1}'), "keys")


def test_repeated_lists_and_booleans() -> None:
    query = QueryParams("ids=a&ids=b&ids=a&ids%5B%5D=c&flag=TRUE&off=0")
    assert p.query_list(query, "ids") == ["a", "b", "c"]
    assert p.query_bool(query, "flag") is True and p.query_bool(query, "off") is False
    assert p.query_bool(query, "missing") is None
    with pytest.raises(InvalidInput, match="true or false"):
        p.query_bool(QueryParams("x=maybe"), "x")


def test_pages_default_cap_and_refuse_garbage() -> None:
    cap = get_settings().page_size_max  # PLANGATE_PAGE_SIZE_MAX
    assert p.page(QueryParams("")) == p.Page(min(100, cap), 0)
    assert p.page(QueryParams("limit=5&offset=10")) == p.Page(5, 10)
    assert p.page(QueryParams("limit=100000")).limit == cap
    with pytest.raises(InvalidInput, match="limit"):
        p.page(QueryParams("limit=-1"))
    with pytest.raises(InvalidInput, match="offset"):
        p.page(QueryParams("offset=ten"))


def test_body_helpers_treat_null_as_absent() -> None:
    body = {"name": None, "n": 2.0, "flag": True, "rate": 0.5, "ids": ["a"]}
    assert p.body_str(body, "name") is None
    with pytest.raises(InvalidInput, match="name is required"):
        p.body_str(body, "name", required=True)
    assert p.body_int(body, "n") == 2
    with pytest.raises(InvalidInput, match="must be an integer"):
        p.body_int({"n": 2.5}, "n")
    with pytest.raises(InvalidInput, match="must be true or false"):
        p.body_bool({"flag": "yes"}, "flag")
    assert p.body_decimal(body, "rate") == "0.5"
    assert p.body_str_list(body, "ids") == ["a"]
    with pytest.raises(InvalidInput, match="list of strings"):
        p.body_str_list({"ids": [1]}, "ids")
    with pytest.raises(InvalidInput, match="keys is required"):
        p.body_keys({})
    with pytest.raises(InvalidInput, match="timezone"):
        p.body_timestamp({"at": "2026-03-18T14:05:00"}, "at")
