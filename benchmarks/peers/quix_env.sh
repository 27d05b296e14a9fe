#!/usr/bin/env bash
# The Quix Streams peer's own virtualenv (benchmarks/peers/quix_fold.py, issue #19).
#
# Every quixstreams release (3.28.1 the latest) requires confluent-kafka<2.13 and this project
# pins confluent-kafka>=2.16, so quixstreams cannot live in the project's .venv: it gets a venv of
# its own, .venv-quix at the repo root (OMNISTOCK_QUIX_VENV overrides the path), with the same
# CPython as .venv (3.11: the engine's modules are mypyc-compiled for it and are imported from
# the checkout, PYTHONPATH=<repo root>, not installed). Besides quixstreams it holds only what the
# engine imports at run time (pyproject.toml's msgspec, orjson, numpy, numba and mypy_extensions),
# pinned to the versions of .venv, so both environments run the same engine the same way.
#
#     bash benchmarks/peers/quix_env.sh     # idempotent: a venv already right is left as it is
#
# OMNISTOCK_QUIX_PYTHON names another CPython 3.11 to make it with (default: .venv's base Python).
#
# benchmarks/fold_peers.py runs the quix side when <venv>/bin/python exists.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${OMNISTOCK_QUIX_VENV:-$ROOT/.venv-quix}"
MAIN_PYTHON="$ROOT/.venv/bin/python"

# quixstreams, and the engine's run-time dependencies at .venv's versions (llvmlite is numba's).
PINS=(
    "quixstreams==3.28.1"
    "numpy==2.4.6"
    "numba==0.68.1"
    "llvmlite==0.50.0"
    "msgspec==0.23.0"
    "orjson==3.13.0"
    "mypy_extensions==1.2.0"
)

# The interpreter: .venv's own base Python when there is one (the same build the engine was
# compiled against), else python3.11 on PATH.
if [[ -n "${OMNISTOCK_QUIX_PYTHON:-}" ]]; then
    BASE="$OMNISTOCK_QUIX_PYTHON"
elif [[ -x "$MAIN_PYTHON" ]]; then
    BASE="$("$MAIN_PYTHON" -c 'import sys; print(sys._base_executable)')"
else
    BASE="$(command -v python3.11 || true)"
fi
if [[ -z "$BASE" ]] || ! "$BASE" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "quix_env.sh: needs CPython 3.11 (the engine's compiled modules are built for it);" \
        "set OMNISTOCK_QUIX_PYTHON" >&2
    exit 1
fi

if [[ -x "$VENV/bin/python" ]] \
    && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "quix_env.sh: $VENV is not a Python 3.11 venv; remove it first" >&2
    exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV with $BASE" >&2
    "$BASE" -m venv "$VENV"
fi
# Kept out of git without touching .gitignore (as Python 3.13's venv does by itself).
[[ -f "$VENV/.gitignore" ]] || echo '*' >"$VENV/.gitignore"

# Installs only what is missing or at another version (pip leaves satisfied pins alone).
"$VENV/bin/python" -m pip install -q "${PINS[@]}"

# The check that matters: the engine's compiled modules and the peer import under this venv.
# (Importing quixstreams prints an AuthlibDeprecationWarning: authlib forces it on; harmless.)
cd "$ROOT"
PYTHONPATH="$ROOT" "$VENV/bin/python" - <<'EOF'
import importlib.machinery
import sys

import confluent_kafka
import quixstreams

import benchmarks.peers.quix_fold  # noqa: F401 - the peer, and dict_fold's fold it reuses
import engine.batch
import engine.events

compiled = tuple(importlib.machinery.EXTENSION_SUFFIXES)
if not engine.events.__file__.endswith(compiled):
    sys.exit(f"quix_env.sh: engine.events is not the compiled module: {engine.events.__file__}")
print(
    f"{sys.prefix}: Python {sys.version.split()[0]}, quixstreams {quixstreams.__version__}, "
    f"confluent-kafka {confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]}), "
    f"engine compiled ({engine.events.__file__})"
)
EOF
