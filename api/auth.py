"""API keys with scopes ``read`` and ``write`` (docs/api.md §2).

Keys come from a file (``--api-keys FILE``, or ``OMNISTOCK_API_KEYS_FILE``) or from
``OMNISTOCK_API_KEYS`` holding the same JSON::

    {"keys": [{"key": "...", "scopes": ["read", "write"]}], "open_reads": true}

With no keys configured at all, every route is open (development, ``omnistock demo``). With
keys, writes need a key with ``write`` (401 without a key or with an unknown one, 403 with a
key that lacks the scope); reads need ``read`` unless ``open_reads`` is true (default false).
A scope does not imply the other: give a till's key both. ``/v1/health``, ``/metrics`` and the
OpenAPI pages stay open.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import msgspec

from api.errors import ApiError
from engine.errors import ConfigError

SCOPES = frozenset({"read", "write"})


class _Key(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    scopes: list[str]


class _KeysFile(msgspec.Struct, forbid_unknown_fields=True):
    keys: list[_Key]
    open_reads: bool = False


class Keys:
    """The configured keys; ``Keys.open()`` when there are none."""

    def __init__(self, scopes_by_key: dict[str, frozenset[str]], open_reads: bool) -> None:
        self.scopes_by_key = scopes_by_key
        self.open_reads = open_reads

    @classmethod
    def open(cls) -> Keys:
        return cls({}, True)

    @property
    def enabled(self) -> bool:
        return bool(self.scopes_by_key)

    @classmethod
    def parse(cls, text: str | bytes, where: str) -> Keys:
        try:
            parsed = msgspec.json.decode(text, type=_KeysFile)
        except msgspec.DecodeError as exc:
            raise ConfigError(
                f"{where}: {exc}; expected "
                '{"keys": [{"key": "...", "scopes": ["read", "write"]}], "open_reads": true}'
            ) from None
        scopes_by_key: dict[str, frozenset[str]] = {}
        for entry in parsed.keys:
            unknown = set(entry.scopes) - SCOPES
            if unknown or not entry.key:
                raise ConfigError(
                    f"{where}: a key needs a non-empty key and scopes among read, write "
                    f"(got {sorted(unknown)})"
                )
            scopes_by_key[entry.key] = frozenset(entry.scopes)
        return cls(scopes_by_key, parsed.open_reads)

    @classmethod
    def load(cls, path: Path | None, text: str | None) -> Keys:
        """From a file, else from the variable's text, else open."""
        if path is not None:
            try:
                return cls.parse(path.read_bytes(), str(path))
            except OSError as exc:
                raise ConfigError(f"cannot read the API keys file {path}: {exc}") from None
        if text:
            return cls.parse(text, "OMNISTOCK_API_KEYS")
        return cls.open()

    def check(self, authorization: str | None, scope: str) -> None:
        """Raise 401/403 unless the ``Authorization`` header grants ``scope``."""
        if not self.scopes_by_key or (scope == "read" and self.open_reads):
            return
        if not authorization:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer KEY")
        kind, _, key = authorization.partition(" ")
        scopes = self._find(key.strip()) if kind.lower() == "bearer" else None
        if scopes is None:
            raise ApiError(401, "unauthorized", "unknown API key: check Authorization: Bearer KEY")
        if scope not in scopes:
            raise ApiError(
                403, "forbidden", f"this key lacks the {scope!r} scope", {"needs": scope}
            )

    def _find(self, key: str) -> frozenset[str] | None:
        found = self.scopes_by_key.get(key)
        if found is not None:
            return found
        # a miss is compared against every key in constant time, so timing tells nothing
        for known in self.scopes_by_key:
            hmac.compare_digest(known.encode(), key.encode())
        return None

    def describe(self) -> dict[str, Any]:
        return {"keys": len(self.scopes_by_key), "open_reads": self.open_reads}
