"""Runtime configuration, read from `PLANGATE_*` environment variables (or a `.env` file)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANGATE_", env_file=".env", extra="ignore")

    database_url: str = Field("sqlite://plangate.db", description="Tortoise URL: sqlite://FILE or postgres://…")
    host: str = Field("127.0.0.1", description="Address `plangate serve` binds to.")
    port: int = Field(8000, description="Port `plangate serve` listens on.")
    workers: int = Field(1, description="uvicorn worker processes for `plangate serve`.")
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console output).")
    access_log: bool = Field(
        False, description="Log every request (uvicorn access log). Failed requests are always logged."
    )
    max_body_bytes: int = Field(1_048_576, description="Largest accepted request body, after gunzip.")
    graphiql: bool = Field(True, description="Serve GraphiQL on GET /graphql.")
    graphql_max_depth: int = Field(12, description="Deepest GraphQL operation accepted.")
    graphql_max_tokens: int = Field(4000, description="Largest GraphQL document accepted, in tokens.")
    graphql_max_aliases: int = Field(30, description="Most aliases in one GraphQL operation.")
    page_size_max: int = Field(100, description="Cap on `first` in GraphQL connections and `limit` in REST lists.")
    idempotency_retention_days: int = Field(35, description="How long event idempotency keys are remembered.")
    cache_poll_interval: float = Field(
        0.25, description="Seconds between polls of the change feed that keeps every process's caches fresh."
    )
    company_cache_size: int = Field(50_000, description="Companies whose check snapshots a process keeps.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
