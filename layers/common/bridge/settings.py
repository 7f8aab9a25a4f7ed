"""Environment of every function, typed and read once. A missing variable fails at start, loudly."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(alias="TABLE_NAME")
    catalog_queue_url: str = Field(default="", alias="CATALOG_QUEUE_URL")
    order_queue_url: str = Field(default="", alias="ORDER_QUEUE_URL")
    sync_queue_url: str = Field(default="", alias="SYNC_QUEUE_URL")
    # SSM path under which each shop's secrets live: {prefix}/shops/{shop_id}/credentials
    secrets_prefix: str = Field(default="/bridge", alias="SECRETS_PREFIX")
    secrets_max_age: int = Field(default=300, alias="SECRETS_MAX_AGE")
    max_body_bytes: int = Field(default=64 * 1024, alias="MAX_BODY_BYTES")
    stale_after_minutes: int = Field(default=24 * 60, alias="STALE_AFTER_MINUTES")
    # A bulk job stops and queues its continuation when this much of its invocation is used (Lambda max: 900 s).
    sync_budget_seconds: int = Field(default=780, alias="SYNC_BUDGET_SECONDS")
    # Share the per-shop API limits across every process through the table (off: per-process pacing only).
    shared_rate_limits: bool = Field(default=True, alias="SHARED_RATE_LIMITS")
    # F17/F18: the Jumpseller app (OAuth) and the shop panel.
    jumpseller_accounts_url: str = Field(default="https://accounts.jumpseller.com", alias="JUMPSELLER_ACCOUNTS_URL")
    jumpseller_api_url: str = Field(default="https://api.jumpseller.com/v1", alias="JUMPSELLER_API_URL")
    bsale_api_url: str = Field(default="https://api.bsale.io", alias="BSALE_API_URL")
    bsale_credential_url: str = Field(default="https://credential.bsale.io", alias="BSALE_CREDENTIAL_URL")
    # Facto's SOAP endpoint for shops the panel connects with Facto (the CLI takes --facto-url instead).
    facto_url: str = Field(default="https://conexion.facto.cl/documento.php", alias="FACTO_URL")
    panel_session_minutes: int = Field(default=60, alias="PANEL_SESSION_MINUTES")
    # Who may show the panel in a frame: the Jumpseller admin.
    panel_frame_ancestors: str = Field(default="https://*.jumpseller.com", alias="PANEL_FRAME_ANCESTORS")
    # Shops may point at the local sandboxes (http on loopback): set by devstack only, never in a deployed stage.
    allow_local_api_urls: bool = Field(default=False, alias="ALLOW_LOCAL_API_URLS")
    # How often, or for how long, a message may be handed back because its shop's API quota stays spent (or the
    # API keeps answering 429), per queue, before it fails into the dead letters. JSON, merged over the defaults
    # in bridge/queue.py, e.g. {"bsale": {"count": 20, "minutes": 15}}.
    deferral_limits: dict[str, dict[str, int]] = Field(default_factory=dict, alias="DEFERRAL_LIMITS")
    # Facto's PDF and XML, kept because its links expire after 30 days (empty: not kept, Facto's links are used).
    documents_bucket: str = Field(default="", alias="DOCUMENTS_BUCKET")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()  # values come from the environment
