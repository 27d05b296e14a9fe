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
from collections.abc import Iterable
from typing import Final

UNSURE: Final = -1
_KEY: Final = b'"location_id":"'
_VALUE = re.compile(rb"[A-Za-z0-9_.\-]{1,64}")


class Owner:
    """Maps locations (and raw lines) to partitions ``0..parts-1``, with a cache.

    ``plan`` places known locations (see ``balance``); any other goes by a CRC32 of its id.
    """

    def __init__(self, parts: int, plan: dict[str, int] | None = None) -> None:
        self.parts = parts
        self._of: dict[bytes | str, int] = {}
        for location_id, part in (plan or {}).items():
            self._of[location_id] = self._of[location_id.encode()] = part % parts

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


def balance(counts: dict[str, int], parts: int) -> dict[str, int]:
    """Place locations on partitions so that their event counts even out.

    Longest-processing-time-first: the busiest location goes to the least loaded partition.
    Deterministic: ties break by location id and partition number.
    """
    loads = [(0, part) for part in range(parts)]
    plan: dict[str, int] = {}
    for location_id, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        load, part = min(loads)
        plan[location_id] = part
        loads[part] = (load + count, part)
    return plan


def sample_counts(lines: Iterable[bytes], limit: int) -> dict[str, int]:
    """Events per location among the first ``limit`` lines (canonical lines only)."""
    counts: dict[str, int] = {}
    for number, raw in enumerate(lines):
        if number >= limit:
            break
        start = raw.find(_KEY)
        if start < 0:
            continue
        start += len(_KEY)
        value = raw[start : raw.find(b'"', start)]
        if _VALUE.fullmatch(value) is not None:
            key = value.decode()
            counts[key] = counts.get(key, 0) + 1
    return counts
