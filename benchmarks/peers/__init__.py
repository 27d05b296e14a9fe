"""Peers of the dataflow for ``benchmarks/fold_peers.py``: the same fold, written without Bytewax.

``dict_fold``: a plain confluent-kafka loop folding the events topic into Python dicts (its
module docstring says exactly how it differs from ``omnistock run``).

``quix_fold``: ``dict_fold``'s fold inside a Quix Streams application. Every quixstreams release
requires confluent-kafka < 2.13 and this project >= 2.16, so it runs from a virtualenv of its
own (``bash benchmarks/peers/quix_env.sh`` makes ``.venv-quix``); ``fold_peers`` runs it when
that exists.
"""
