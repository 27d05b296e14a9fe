"""The Quix peer (``benchmarks/peers/quix_fold.py``) runs from its own virtualenv, so it is not
imported here: read as source, the settings it copies (it cannot import Bytewax's modules) are
still the dataflow's, and it takes the arguments ``benchmarks/fold_peers.py`` launches it with."""

from __future__ import annotations

import ast
from pathlib import Path

from benchmarks.peers import dict_fold
from dataflows.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS
from omnistock.cli import GC_THRESHOLDS

SOURCE = Path(dict_fold.__file__).with_name("quix_fold.py")


def constants() -> dict[str, object]:
    found = {}
    for node in ast.parse(SOURCE.read_text()).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            try:
                found[node.target.id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def test_copied_settings_are_the_dataflows():
    copied = constants()
    assert copied["PRODUCER_DEFAULTS"] == PRODUCER_DEFAULTS
    assert copied["CONSUMER_DEFAULTS"] == CONSUMER_DEFAULTS
    assert copied["GC_THRESHOLDS"] == GC_THRESHOLDS


def test_takes_dict_folds_arguments():
    source = SOURCE.read_text()
    assert "arguments(" in source  # dict_fold's parser, not a copy of it
    parser = dict_fold.arguments("peer")
    for flag in ("--bootstrap", "--prefix", "--out-prefix", "--batch", "--max-future-s"):
        assert flag in parser._option_string_actions
