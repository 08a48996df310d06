#!/usr/bin/env bash
# Network-only predictions of the installed model on a fresh hold-out, on a lent GPU machine:
# `holdout generate` (evaluation-only cases) then `eval-seg --cache`; QC, rescue and the report
# run back on the CPU machine from the cached probabilities (`holdout evaluate --cache`).
# Env: HO_SEED (default 18), HO_N (default 24). Same site bundle as campaign.sh.
set -u
OUT=${OUT:-/tmp/lipo-gpu-out}; mkdir -p "$OUT"
T0=$(date +%s); step() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
source "$(dirname "$0")/site_env.sh"
step "site ready"; mkdir -p /tmp/eval
S=${HO_SEED:-18}; N=${HO_N:-24}
timeout 150 $LN holdout generate --out /tmp/ho --n $N --seed $S > /tmp/gen.log 2>&1
step "generated rc=$?"
timeout 120 $LN eval-seg /tmp/ho --n 999 --cache /tmp/eval/cache --json /tmp/eval/holdout_dice.json > /tmp/eval/eval.log 2>&1
step "predicted rc=$?"; tail -n 2 /tmp/eval/eval.log
tar czf "$OUT/eval.tgz" -C /tmp eval ho/holdout.json
step "packed"
