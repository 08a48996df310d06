#!/usr/bin/env bash
# One prepared run on a lent GPU machine (issue 14), as `device run` executes it in the repo root:
#   1. `bench segment --device cuda` on 40×512×512 studies (alone on the machine, first);
#   2. `train-campaign`: training set made there, nnU-Net + interactive model trained at once;
#   3. the new models evaluated on a fresh, evaluation-only hold-out (`holdout evaluate`, masks
#      cached) and QC samples measured on twin cases (`qc-tune --samples`) for tuning back here.
# The machine has PyTorch but none of our other packages and no network: they travel as a
# prepared site folder (.gpu/site.tar.xz, made by deploy/gpu/pack_site.sh). Each step is bounded by
# `timeout` and a failed step does not stop the ones after it; what exists is packed into $OUT.
# SMOKE=1 runs the same steps tiny and on the CPU (a dry run here before spending GPU time).
set -u
OUT=${OUT:-/tmp/lipo-gpu-out}
mkdir -p "$OUT"
T0=$(date +%s)
step() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
if [ "${SMOKE:-0}" = 1 ]; then
  DEV=cpu; BENCH="--shape 20 128 128 --cases 1"; BUDGET_S=900; HO_N=3; QC_N=3; W=2
  CAMP="--labelmap-cases 4 --randomised-cases 3 --twin-cases 3 --gen-minutes 2 --seg-minutes 0.5 \
        --interactive-minutes 0.3 --iterations-per-epoch 2 --batch-size 2 --interactive-batch 4"
else
  DEV=cuda; BENCH="--shape 40 512 512 --cases 1"; HO_N=40; QC_N=24; W=13
  CAMP="--gen-minutes ${GEN_MIN:-2.2} --seg-minutes ${SEG_MIN:-3.3} --interactive-minutes ${INT_MIN:-2.5}"
fi
source "$(dirname "$0")/site_env.sh"
step "site ready"
DEV=$DEV $PY - > "$OUT/env.txt" 2>&1 <<'PYEOF'

import importlib, sys, torch
for m in ("nnunetv2.training.nnUNetTrainer.nnUNetTrainer", "node.segment.campaign", "node.holdout.evaluate",
          "node.qc.tuning", "node.bench.segment", "node.synthetic.randomise", "SimpleITK", "cc3d", "blosc2"):
    importlib.import_module(m)
try:
    importlib.import_module("node.synthetic.labelmaps")
    print("labelmaps: yes")
except ImportError as e:
    print("labelmaps: no", e)
print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
import os, subprocess; print(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(), "cores")
import runpy; runpy.run_path("deploy/gpu/ln.py")  # sets the command modules
import node.cli, node.synthetic.study; node.cli.build_parser()  # each of them imports
if os.environ.get("DEV") == "cuda" and not torch.cuda.is_available():
    sys.exit("no CUDA device")
PYEOF
RC=$?; cat "$OUT/env.txt"; [ $RC = 0 ] || { echo "import check failed: nothing else run"; exit 3; }
step "imports ok"
timeout 100 $LN bench segment --device $DEV $BENCH --out "$OUT/bench_segment_$DEV.json" > "$OUT/bench.log" 2>&1
step "bench rc=$?"; tail -3 "$OUT/bench.log"
# evaluation data, made on spare cores while the training set is made (never seen by training)
( timeout 300 $LN holdout generate --out /tmp/ho --n $HO_N --seed ${HO_SEED:-17} > /tmp/ho_gen.log 2>&1 ) &
( timeout 300 $LN synth cohort --profile prospective --n $QC_N --out /tmp/twinqc --seed 16 --quiet > /tmp/qc_gen.log 2>&1 ) &
timeout 420 $LN train-campaign --out /tmp/camp --work-dir /tmp/campwork --workers $W --device $DEV $CAMP \
  --pretrained node/models/demo/seg/fold_0/checkpoint_final.pth --interactive-init node/models/demo/interactive > "$OUT/campaign.log" 2>&1
step "campaign rc=$?"; tail -5 "$OUT/campaign.log"
wait
mkdir -p /tmp/eval
for m in seg interactive; do  # the device's copy of the tree; a smoke run keeps the bundled models
  if [ "${SMOKE:-0}" != 1 ] && [ -d /tmp/camp/$m ]; then rm -rf node/models/demo/$m && cp -r /tmp/camp/$m node/models/demo/$m; fi
done
tar czf "$OUT/models.tgz" -C /tmp/camp . 2>/dev/null   # first: the models are what matters most
step "models packed"
# only the network runs here (seconds per case on the GPU); QC, rescue and QC tuning run back on
# the CPU machine from these cached probabilities (`holdout evaluate --cache`, `qc-tune --cache`)
LEFT=$(( ${BUDGET_S:-560} - ($(date +%s) - T0) ))
( timeout $LEFT $LN eval-seg /tmp/ho --n 999 --cache /tmp/eval/cache --json /tmp/eval/holdout_dice.json > /tmp/eval/eval_ho.log 2>&1 ) &
( timeout $LEFT $LN eval-seg /tmp/twinqc --n 999 --cache /tmp/eval/cache --json /tmp/eval/twinqc_dice.json > /tmp/eval/eval_qc.log 2>&1 ) &
wait
step "evaluation done"; tail -n 2 /tmp/eval/eval_ho.log /tmp/eval/eval_qc.log
cp /tmp/ho_gen.log /tmp/qc_gen.log /tmp/eval/ 2>/dev/null
tar czf "$OUT/eval.tgz" -C /tmp eval ho/holdout.json 2>/dev/null
step "packed"; ls -la "$OUT"
