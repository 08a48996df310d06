#!/usr/bin/env bash
# Install everything, then run the test suite. Tests start their own Orthanc, dcmtk peers,
# Redis and Chromium on free localhost ports. Extra args go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/deploy/install.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export MPLBACKEND=Agg
"$ROOT/.venv/bin/ruff" check node tests
set +e
"$ROOT/.venv/bin/python" -m pytest -m "not slow" -p no:cacheprovider "$@"
rc=$?
set -e
# pytest exit 5 ("no tests collected") is a failure for us.
[ "$rc" -eq 5 ] && { echo "no tests collected"; exit 1; }
exit "$rc"
