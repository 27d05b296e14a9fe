"""A real Kafka broker for the integration tests (docs/api.md §8).

``OMNISTOCK_BOOTSTRAP`` names a running broker; without it, ``docker/kafka-local.sh start``
starts the local KRaft broker once (a no-op when one already runs).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bootstrap() -> str:
    named = os.environ.get("OMNISTOCK_BOOTSTRAP")
    if named:
        return named
    subprocess.run(
        ["bash", str(ROOT / "docker" / "kafka-local.sh"), "start"], check=True, timeout=600
    )
    return "127.0.0.1:9092"


@pytest.fixture
def prefix() -> str:
    """Topics of one test, apart from every other test's."""
    return f"t{uuid.uuid4().hex[:10]}."
