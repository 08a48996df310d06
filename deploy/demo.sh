#!/usr/bin/env bash
# Install everything, then run the whole chain once on a synthetic study with the bundled demo models.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/deploy/install.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/lipo-node" demo "$@"
