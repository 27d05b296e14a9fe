"""``omnistock run`` with a census of its fold, for ``test_keying_kafka.py``.

    python -m tests.integration.fold_census OUT.json run --bootstrap ... [omnistock run's flags]

Runs ``omnistock.cli.main`` on the other arguments, having wrapped two things first: the Kafka
source's ``build_part`` notes each partition this process reads, and the fold's
``fold_batch`` counts each envelope it folds by (partition it was read from, message type).
Every half second the census is written to ``OUT.json`` (``{"read": [...], "folded": [[part,
type, count], ...]}``). With one worker per process, an envelope folded here from a partition
read elsewhere crossed between processes.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import dataflows.flow
import dataflows.kafka
import engine.batch
from omnistock.cli import main as cli_main

_lock = threading.Lock()
_read: set[int] = set()
_folded: Counter[tuple[int, str]] = Counter()


def _install() -> None:
    fold = engine.batch.fold_batch  # what dataflows.flow calls
    build_part = dataflows.kafka.EventSource.build_part

    def counting(book: Any, batches: list[list[Any]], *args: Any) -> Any:
        counts = Counter((e[2][1], type(e[0]).__name__) for batch in batches for e in batch)
        with _lock:
            _folded.update(counts)
        return fold(book, batches, *args)

    def noting(self: Any, step_id: str, for_part: str, resume_state: Any) -> Any:
        with _lock:
            _read.add(int(for_part))
        return build_part(self, step_id, for_part, resume_state)

    vars(dataflows.flow)["fold_batch"] = counting
    dataflows.kafka.EventSource.build_part = noting  # type: ignore[method-assign]


def _dump(out: Path, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        with _lock:
            census = {
                "read": sorted(_read),
                "folded": [[part, kind, n] for (part, kind), n in sorted(_folded.items())],
            }
        partial = out.with_suffix(".tmp")
        partial.write_text(json.dumps(census))
        partial.replace(out)


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    _install()
    stop = threading.Event()
    threading.Thread(target=_dump, args=(out, stop), daemon=True).start()
    try:
        return cli_main(argv[1:])
    finally:
        stop.set()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
