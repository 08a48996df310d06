#!/usr/bin/env bash
# Idempotent installer: Debian packages, Python venv, torch (CPU or CUDA), nnU-Net, npm viewer.
# Called by demo.sh and test.sh; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIPO_NODE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3

APT_PKGS=(orthanc orthanc-dicomweb orthanc-python dcmtk dicom3tools redis-server chromium openssl nodejs npm)
need_apt=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
# nodejs/npm may come from outside Debian's archive on some machines: accept an existing npm
if command -v npm >/dev/null; then
  tmp=(); for p in "${need_apt[@]:-}"; do [[ "$p" == nodejs || "$p" == npm || -z "$p" ]] || tmp+=("$p"); done
  need_apt=("${tmp[@]:-}")
fi
if [ -n "${need_apt[*]:-}" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "[install] apt-get install ${need_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian starts orthanc/redis as system services on install; the node and its tests start their own.
for svc in orthanc redis-server; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
STAMP="$VENV/.lipo-node-installed"
HASH="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" "$ROOT/deploy/install.sh" | sha256sum | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$HASH" ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    echo "[install] GPU found: CUDA torch"
    "${PIP[@]}" "torch>=2.4"
    TORCH_PIN="torch==$("$VENV/bin/python" -c 'import torch;print(torch.__version__.split("+")[0])')"
  else
    echo "[install] no GPU: CPU torch 2.13.0"
    "${PIP[@]}" "torch==2.13.0"
    TORCH_PIN="torch==2.13.0"
  fi
  CONS="$(mktemp)"; echo "$TORCH_PIN" > "$CONS"
  "${PIP[@]}" -c "$CONS" -r "$ROOT/requirements.txt"
  # nnU-Net v2 without its optional timm -> torchvision chain (only the Primus/EVA
  # architectures use timm; PyPI torchvision does not load beside the CPU torch wheel).
  "${PIP[@]}" -c "$CONS" --no-deps "nnunetv2==2.8.1" "dynamic-network-architectures>=0.4,<0.5"
  "${PIP[@]}" -c "$CONS" --no-deps -e "$ROOT"
  rm -f "$CONS"
  echo "$HASH" > "$STAMP"
fi

# pyradiomics' own test case + published baseline (from its PyPI sdist) for the radiomics tests
"$VENV/bin/python" "$ROOT/deploy/fetch_pyradiomics_testdata.py" "$VENV/share/pyradiomics-data"

# Viewer for the worklist (NiiVue), vendored at install time; no CDN at run time.
if [ -f "$ROOT/node/worklist/frontend/package.json" ]; then
  if [ ! -f "$ROOT/node/worklist/static/vendor/niivue.js" ]; then
    (cd "$ROOT/node/worklist/frontend" && npm install --no-audit --no-fund --silent && npm run --silent build)
  fi
fi
# OHIF viewer for radiologists (and the browser test): the prebuilt dist/ of the npm package
# @ohif/app, pinned (node/orthanc/ohif.py OHIF_VERSION). Only its tarball is fetched (npm pack
# checks the registry's integrity hash): dist/ is self-contained, its dependencies are bundled.
OHIF_VERSION="3.13.2"
OHIF_DIR="$ROOT/deploy/ohif"
if [ "$(cat "$OHIF_DIR/dist/.lipo-node-ohif-version" 2>/dev/null)" != "$OHIF_VERSION" ]; then
  echo "[install] OHIF viewer @ohif/app@$OHIF_VERSION"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "@ohif/app@$OHIF_VERSION" >/dev/null)
  rm -rf "$OHIF_DIR/dist.new" && mkdir -p "$OHIF_DIR/dist.new"
  tar -xzf "$tmp"/ohif-app-"$OHIF_VERSION".tgz -C "$OHIF_DIR/dist.new" --strip-components=2 package/dist
  echo "$OHIF_VERSION" > "$OHIF_DIR/dist.new/.lipo-node-ohif-version"
  rm -rf "$OHIF_DIR/dist" && mv "$OHIF_DIR/dist.new" "$OHIF_DIR/dist"
  rm -rf "$tmp"
fi
echo "[install] ok: $VENV"
