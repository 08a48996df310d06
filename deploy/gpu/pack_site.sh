#!/usr/bin/env bash
# Packs the Python packages the GPU machine lacks (it has PyTorch, NumPy, SciPy, scikit-image…, no
# network) into .gpu/site.tar.xz for deploy/gpu/campaign.sh: pure-Python packages and abi3 builds
# are copied from our venv; compiled ones need CPython 3.12 wheels (that machine's Python), which
# pip downloads for that platform. Git ignores .gpu/ (.git/info/exclude); the archive travels with
# `device run … carry=[".gpu"]` (64 MiB limit for tree + carry: this archive is ~40 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
SP=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
STAGE=$(mktemp -d); WHL=$(mktemp -d)
for p in SimpleITK acvl_utils annotated_types batchgenerators batchgeneratorsv2 blosc2 dotenv \
         dynamic_network_architectures highdicom nibabel nnunetv2 pydantic pydantic_settings pydicom \
         pynetdicom typing_inspection; do cp -r "$SP/$p" "$STAGE/"; done
v() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$WHL" \
  "connected-components-3d==$(v connected-components-3d)" "pydantic_core==$(v pydantic_core)" \
  "numexpr==$(v numexpr)" "ndindex==$(v ndindex)"
for w in "$WHL"/*.whl; do (cd "$STAGE" && unzip -q -o "$w" -x '*.dist-info/*'); done
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$STAGE/pynetdicom/tests" "$STAGE/pynetdicom/apps" "$STAGE/pydicom/data/test_files"
mkdir -p .gpu && tar cf - -C "$STAGE" . | xz -T2 -7 > .gpu/site.tar.xz
rm -rf "$STAGE" "$WHL"; ls -la .gpu/site.tar.xz
