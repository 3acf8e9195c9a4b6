#!/usr/bin/env bash
# Start JupyterLab for the UI tests on an isolated node, Jupyter dirs and root folder under .jupyter-root/.
# The node is a copy of a cached generated catalogue (10,000 datasets + one ingested DICOM dataset).
set -euo pipefail
cd "$(dirname "$0")"
ROOT="${EUCAIM_UI_ROOT:-$PWD/.jupyter-root}"
PY="${PY:-$(cd ../../.. && pwd)/.venv/bin/python}"
BIN="$(dirname "$PY")"
rm -rf "$ROOT/server-root" "$ROOT/jupyter-data" "$ROOT/jupyter-runtime" "$ROOT/jupyter-config"
mkdir -p "$ROOT/server-root" "$ROOT/jupyter-data" "$ROOT/jupyter-runtime" "$ROOT/jupyter-config"
"$PY" prepare_node.py --home "$ROOT/node" --datasets "${EUCAIM_UI_DATASETS:-10000}"
export EUCAIM_LAB_HOME="$ROOT/node" EUCAIM_LAB_USER="${EUCAIM_LAB_USER:-researcher}"
export JUPYTER_DATA_DIR="$ROOT/jupyter-data" JUPYTER_RUNTIME_DIR="$ROOT/jupyter-runtime"
export JUPYTER_CONFIG_DIR="$ROOT/jupyter-config" JUPYTERLAB_GALATA_ROOT_DIR="$ROOT/server-root"
export PATH="$BIN:$PATH"
exec "$BIN/jupyter" lab --config jupyter_server_test_config.py
