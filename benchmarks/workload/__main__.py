"""Entry point of ``python -m benchmarks.workload`` (see ``cli``)."""

from .cli import main

raise SystemExit(main())
