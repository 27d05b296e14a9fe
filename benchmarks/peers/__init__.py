"""Peers of the dataflow for ``benchmarks/fold_peers.py``: the same fold, written without Bytewax.

``dict_fold``: a plain confluent-kafka loop folding the events topic into Python dicts (its
module docstring says exactly how it differs from ``omnistock run``).
"""
