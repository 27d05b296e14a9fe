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
from typing import Annotated, Any

import msgspec

from engine.book import DAY_MS, EngineConfig
from engine.errors import ConfigError
from engine.policy import DEFAULT_POLICY, Policy, load

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
        policy: a policy file (docs/policy.md); ``--policy`` wins over it.
        stockout_days: ``stockout_soon`` fires when stock lasts fewer days than this (the
            policy's ``alerts`` win over it, as over ``low_stock`` and ``reorder_point``).
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
    policy: str | None = None
    stockout_days: Annotated[int, msgspec.Meta(ge=0)] = 2

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

    def engine(self, policy: Policy = DEFAULT_POLICY) -> EngineConfig:
        """The rules' settings, under ``policy`` (``load_policy``)."""
        return EngineConfig(
            dedup_window_ms=self.dedup_window_s * 1000,
            low_stock=self.low_stock,
            reorder_point=self.reorder_point,
            max_future_s=self.max_future_s,
            stockout_days=self.stockout_days,
        ).with_policy(policy)

    def load_policy(self, path: str | None = None) -> Policy:
        """The policy of the file ``path`` (``--policy``), else of ``OMNISTOCK_POLICY``, else
        the default one.

        Raises:
            ConfigError: the file cannot be read or is not a valid policy (exit 2).
        """
        path = path or self.policy
        if path is None:
            return DEFAULT_POLICY
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"policy file {path}: {exc.strerror or exc}") from None
        try:
            return load(text)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def add_policy_argument(parser: Any) -> None:
    """The ``--policy FILE`` option of the commands that run the rules."""
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="channels, groups, safety stock, kits and alert thresholds (docs/policy.md; "
        "default: OMNISTOCK_POLICY, else the default policy)",
    )
