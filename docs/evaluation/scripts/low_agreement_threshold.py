"""The low_agreement threshold analysis of segmentation_generalisation.md §13 (stop 28).

Reads `lipo-node holdout evaluate --json` files (run with the agreement pass on, QC as shipped)
and answers two questions from the recorded `agreement_dice` values, without re-running a model:

    choose  DEV.json ...        the rule's unique contribution at each T, and the T the written rule picks
    rescore HOLDOUT.json T      the gate's numbers had low_agreement fired below T

Usage: python docs/evaluation/scripts/low_agreement_threshold.py choose a.json b.json c.json
"""

from __future__ import annotations

import json
import sys

THRESHOLDS = (0.8, 0.7, 0.6, 0.5, 0.4)


def _cases(paths: list[str]) -> list[dict]:
    cases: list[dict] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            cases += [c for c in json.load(fh)["cases"] if not c.get("extra", {}).get("empty_truth")]
    return cases


def _other_reasons(case: dict) -> list[str]:
    return [r for r in case["qc_reasons"] if r != "low_agreement" and not r.startswith("rescue:")]


def _below(case: dict, t: float) -> bool:
    a = case["measurements"].get("agreement_dice")
    return a is not None and a < t


def choose(paths: list[str]) -> float:
    """Most bad masks (Dice < 0.7) caught by the rule alone while it alone flags at most 5 % of the
    good ones (Dice >= 0.8); ties to the lower T; none within the cap: the lowest T."""
    cases = _cases(paths)
    good = [c for c in cases if c["dice"] >= 0.8]
    bad = [c for c in cases if c["dice"] < 0.7]
    print(f"n {len(cases)}, good (>= 0.8) {len(good)}, bad (< 0.7) {len(bad)}")
    rows = []
    for t in THRESHOLDS:
        alone = [c for c in cases if _below(c, t) and not _other_reasons(c)]
        n_bad = sum(c["dice"] < 0.7 for c in alone)
        n_good = sum(c["dice"] >= 0.8 for c in alone)
        flagged = sum(_below(c, t) for c in cases)
        print(f"T {t}: flagged {flagged}, alone: bad {n_bad}, good {n_good}")
        rows.append((t, n_bad, n_good))
    within = [r for r in rows if r[2] <= 0.05 * len(good)]
    if not within:
        return min(THRESHOLDS)
    best = max(r[1] for r in within)
    return min(r[0] for r in within if r[1] == best)


def rescore(path: str, t: float) -> dict[str, object]:
    cases = _cases([path])
    review = [c for c in cases if _other_reasons(c) or _below(c, t)]
    passed = [c for c in cases if c not in review]
    rescued = [c["rescue_dice"] for c in review if c["rescue_dice"] is not None]
    return {
        "T": t, "n": len(cases), "review": len(review), "review_share": round(len(review) / len(cases), 4),
        "passed": len(passed),
        "passed_ge_0_7": sum(c["dice"] >= 0.7 for c in passed),
        "passed_below_0_5": sum(c["dice"] < 0.5 for c in passed),
        "min_passed": min((c["dice"] for c in passed), default=None),
        "rescue_ge_0_8": f"{sum(d >= 0.8 for d in rescued)}/{len(rescued)}",
        "review_without_rescue": len(review) - len(rescued),
    }


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "choose":
        print("chosen T", choose(sys.argv[2:]))
    elif len(sys.argv) == 4 and sys.argv[1] == "rescore":
        print(rescore(sys.argv[2], float(sys.argv[3])))
    else:
        sys.exit(__doc__)
