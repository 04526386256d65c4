#!/usr/bin/env bash
# Install the Milvus servers the test suite starts (tests/servers.py).
#
# Milvus 2.3.5 standalone comes from the PyPI package `milvus==2.3.5`, whose wheel holds the
# server binary and its libraries compressed with lzma. It goes into its own venv so that its
# pinned client extra (pymilvus<2.4) never meets the project's pymilvus; the binaries are
# unpacked once here instead of on every server start.
# Milvus Lite's server (`milvus-lite server`) ships with the project's milvus-lite dependency.
#
# Usage: scripts/install_servers.sh [DEST]   (default: .servers/ in the repository root)
# The tests look in .servers/milvus235, or in $TEXTAL_MILVUS235_HOME when that is set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/.servers}/milvus235"
python="${PYTHON:-python3}"

if [[ -x "$dest/bin/milvus" && -x "$dest/venv/bin/milvus-server" ]]; then
    echo "milvus 2.3.5 already installed in $dest"
    exit 0
fi

"$python" -m venv "$dest/venv"
"$dest/venv/bin/pip" install --quiet --no-deps "milvus==2.3.5"
"$dest/venv/bin/python" - "$dest" <<'PY'
import sys

import milvus

milvus._initialize_data_files(sys.argv[1])
PY
# The binary prints its usage only if it and its bundled libraries load on this machine.
usage="$(LD_LIBRARY_PATH="$dest/bin" "$dest/bin/milvus" help 2>&1 || true)"
[[ "$usage" == *"milvus run"* ]] || {
    echo "the milvus 2.3.5 binary in $dest/bin does not run on this machine" >&2
    exit 1
}
echo "milvus 2.3.5 installed in $dest"
