"""A real Kafka broker for the integration tests (docs/api.md §8).

``OMNISTOCK_BOOTSTRAP`` names a running broker; without it, ``docker/kafka-local.sh start``
starts the local KRaft broker once (a no-op when one already runs).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

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
def prefix(bootstrap: str) -> Iterator[str]:
    """Topics of one test, apart from every other test's; deleted after it (thousands of
    leftover partitions would make every later start of the broker take a minute)."""
    made = f"t{uuid.uuid4().hex[:10]}."
    yield made
    delete_topics(bootstrap, made)


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with ``prefix`` (best effort: a broker a test
    stopped may be down)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                future.result(timeout=60)
    except KafkaException:
        pass
