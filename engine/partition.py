"""Which of N replay partitions owns a line: by its location, read from the raw bytes.

A parallel replay gives each process the locations whose hash falls to it; every process reads
every line but fully parses only its own (plus, for a ``transfer_out`` elsewhere, the supply it
creates at one of its locations). Reading the location without parsing must never disagree
with the parser, so the fast path is taken only for a line in the canonical compact form: one
``"location_id":"VALUE"`` in the whole line, VALUE of identifier characters, no ``\\u`` escape
anywhere. Any other line is *unsure*: every process parses it, the owner of the parsed
location applies it, and partition 0 alone counts it if it is rejected.
"""

from __future__ import annotations

import re
import zlib
from typing import Final

UNSURE: Final = -1
_KEY: Final = b'"location_id":"'
_VALUE = re.compile(rb"[A-Za-z0-9_.\-]{1,64}")


class Owner:
    """Maps locations (and raw lines) to partitions ``0..parts-1``, with a cache."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self._of: dict[bytes | str, int] = {}

    def of(self, location_id: str | bytes) -> int:
        """The partition of a location (the same for its ``str`` and ``bytes`` forms)."""
        found = self._of.get(location_id)
        if found is None:
            raw = location_id.encode() if isinstance(location_id, str) else location_id
            found = self._of[location_id] = zlib.crc32(raw) % self.parts
        return found

    def scan(self, raw: bytes) -> int:
        """The partition of a raw line's location, or ``UNSURE``."""
        start = raw.find(_KEY)
        if start < 0 or raw.count(b"location_id") != 1 or b"\\u" in raw:
            return UNSURE
        start += len(_KEY)
        end = raw.find(b'"', start)
        value = raw[start:end]
        found = self._of.get(value)
        if found is not None:
            return found
        if end < 0 or _VALUE.fullmatch(value) is None:
            return UNSURE
        return self.of(value)
