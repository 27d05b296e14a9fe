"""Entry point of ``python -m workload`` (see ``cli``)."""

from .cli import main

raise SystemExit(main())
