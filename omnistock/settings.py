"""One settings object per process, read from ``OMNISTOCK_*`` environment variables.

Built once at start-up by the command that runs (``Settings.from_env()``), validated there,
and passed down; nothing reads the environment anywhere else.

The values are decoded and checked by msgspec (``msgspec.convert``, lax mode: the text ``"5"``
becomes the int 5), the library every event already goes through. pydantic-settings did the
same job but its import alone was a noticeable share of every command's start
(docs/performance.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from engine.book import DAY_MS, EngineConfig
from engine.errors import ConfigError

PREFIX = "OMNISTOCK_"


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Settings shared by every command; each field is ``OMNISTOCK_<FIELD>`` in the environment.

    Attributes:
        dedup_window_s: how long (event time) an applied ``event_id`` is remembered.
        low_stock: ``low_stock`` alerts fire at or under this ATP.
        reorder_point: ``replenish`` alerts fire when ATP plus expected supply is under this.
        topic_prefix: prefix of every Kafka topic.
        api_keys: the API keys as JSON, the keys file's shape (``api.auth``); none: all open.
        api_keys_file: a file holding them (``--api-keys`` wins over both).
        api_timeout_s: how long a reservation request waits for the engine's outcome (202
            ``pending`` after).
        max_future_s: an event dated more than this after the wall clock is refused
            (``ts_in_future``) by the live modes.
        api_max_body: the largest request body the API reads, in bytes.
    """

    dedup_window_s: Annotated[int, msgspec.Meta(ge=1)] = 7 * DAY_MS // 1000
    low_stock: Annotated[int, msgspec.Meta(ge=0)] = 2
    reorder_point: Annotated[int, msgspec.Meta(ge=0)] = 5
    topic_prefix: str = "omnistock."
    api_keys: str | None = None
    api_keys_file: str | None = None
    api_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    api_max_body: Annotated[int, msgspec.Meta(ge=1024)] = 16 * 1024 * 1024
    max_future_s: Annotated[int, msgspec.Meta(ge=0)] = 300

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings named in ``environ`` (default: the process environment).

        Names are matched without regard to case; empty values and unknown names are ignored.

        Raises:
            ConfigError: a value is not of its setting's type or range.
        """
        environ = os.environ if environ is None else environ
        fields = set(cls.__struct_fields__)
        values = {}
        for name, value in environ.items():
            upper = name.upper()
            if upper.startswith(PREFIX) and value != "":
                field = upper[len(PREFIX) :].lower()
                if field in fields:
                    values[field] = value
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            at = re.search(r"`\$\.(\w+)`", str(exc))
            name = PREFIX + at.group(1).upper() if at else "an OMNISTOCK_ variable"
            raise ConfigError(f"{name}: {exc}; fix or unset it") from None

    @property
    def api_keys_path(self) -> Path | None:
        """``api_keys_file`` as a path."""
        return None if self.api_keys_file is None else Path(self.api_keys_file)

    def engine(self) -> EngineConfig:
        """The rules' settings."""
        return EngineConfig(
            dedup_window_ms=self.dedup_window_s * 1000,
            low_stock=self.low_stock,
            reorder_point=self.reorder_point,
            max_future_s=self.max_future_s,
        )
