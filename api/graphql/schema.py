"""The GraphQL schema, assembled from one module per area."""

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.graphql.catalog.schema import CatalogMutations, CatalogQueries
from api.graphql.checks.schema import CheckQueries
from api.graphql.companies.schema import CompanyMutations, CompanyQueries
from api.graphql.environments.schema import EnvironmentMutations, EnvironmentQueries
from api.graphql.metering.schema import MeteringMutations, MeteringQueries
from api.graphql.scalars import SCALAR_MAP
from domain.settings import get_settings

QUERIES: tuple[type, ...] = (EnvironmentQueries, MeteringQueries, CompanyQueries, CatalogQueries, CheckQueries)
MUTATIONS: tuple[type, ...] = (EnvironmentMutations, MeteringMutations, CompanyMutations, CatalogMutations)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)

_settings = get_settings()

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map=SCALAR_MAP, relay_max_results=_settings.page_size_max),
    extensions=[
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: QueryDepthLimiter(max_depth=_settings.graphql_max_depth),
        lambda: MaxTokensLimiter(max_token_count=_settings.graphql_max_tokens),
        lambda: MaxAliasesLimiter(max_alias_count=_settings.graphql_max_aliases),
    ],
)
