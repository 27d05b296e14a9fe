"""One settings object per process (pydantic-settings, environment prefix ``OMNISTOCK_``).

Built once at start-up by the command that runs, validated there, and passed down; nothing
reads the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.book import DAY_MS, EngineConfig


class Settings(BaseSettings):
    """Settings shared by every command.

    Attributes:
        dedup_window_s: how long (event time) an applied ``event_id`` is remembered.
        low_stock: ``low_stock`` alerts fire at or under this ATP.
        reorder_point: ``replenish`` alerts fire when ATP plus expected supply is under this.
        topic_prefix: prefix of every Kafka topic.
        api_keys: the API keys as JSON, the keys file's shape (``api.auth``); none: all open.
        api_keys_file: a file holding them (``--api-keys`` wins over both).
        api_timeout_s: how long a reservation request waits for the engine's outcome (503 after).
        api_max_body: the largest request body the API reads, in bytes.
    """

    model_config = SettingsConfigDict(env_prefix="OMNISTOCK_", extra="ignore")

    dedup_window_s: int = Field(default=7 * DAY_MS // 1000, ge=1)
    low_stock: int = Field(default=2, ge=0)
    reorder_point: int = Field(default=5, ge=0)
    topic_prefix: str = "omnistock."
    api_keys: str | None = None
    api_keys_file: Path | None = None
    api_timeout_s: float = Field(default=5.0, gt=0, le=300)
    api_max_body: int = Field(default=5 * 1024 * 1024, ge=1024)

    def engine(self) -> EngineConfig:
        """The rules' settings."""
        return EngineConfig(
            dedup_window_ms=self.dedup_window_s * 1000,
            low_stock=self.low_stock,
            reorder_point=self.reorder_point,
        )
