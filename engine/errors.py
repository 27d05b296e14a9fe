"""Omnistock's exceptions: one root, small families, messages that say what to do next.

The tree::

    OmnistockError
    +-- ConfigError          a setting, flag or file that cannot work; fix it and start again
    +-- InputError           a caller's request or file that cannot be read

Bad events are not exceptions: the engine answers them with a ``Rejected`` output that the
dataflow sends to the dead-letter topic and ``replay`` to its dead-letter file.
"""

from __future__ import annotations


class OmnistockError(Exception):
    """Root of every error Omnistock raises on purpose."""


class ConfigError(OmnistockError):
    """A setting, flag or configuration file is invalid."""


class InputError(OmnistockError):
    """A caller's input (a timestamp, a file) cannot be read."""
