"""Loading a ``Promiser`` for ``--network FILE`` (``api.promise_routes`` says what it is).

The delivery-promise calculator lives in ``engine.promise`` (its own branch). Until it is
merged, ``--network`` is refused with a clear message rather than half-served.
"""

from __future__ import annotations

from pathlib import Path

from api.promise_routes import Promiser
from engine.errors import ConfigError


def load_promiser(path: Path) -> Promiser:
    """The calculator over the network in ``path``.

    Raises:
        ConfigError: the file cannot be used, or this build has no promise module yet.
    """
    raise ConfigError(
        f"--network {path}: this build has no delivery-promise module (engine.promise) yet; "
        "start without --network (the promise routes then answer 503 no_network)"
    )
