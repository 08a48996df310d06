"""The WORC search space: one random *workflow* = one preprocessing + selection + resampling +
classifier combination with sampled hyper-parameters (Starmans et al., WORC 3.x).

Order of steps (WORC): imputation → groupwise feature selection → robust z-scoring (5–95th
percentile) → variance threshold → optional univariate Mann–Whitney / RELIEF /
SelectFromModel / PCA → optional resampling → classifier. Learning rates of AdaBoost and
XGBoost are drawn log-uniformly from [0.01, 1] and [0.01, 0.3]; WORC's 10^U(0.01, 1) draws
values of about 1–10 and is deliberately not copied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectFromModel, VarianceThreshold
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import SVC
from xgboost import XGBClassifier

from node.classify.transforms import (
    GroupSelector,
    MannWhitneySelector,
    ReliefSelector,
    RobustZScore,
)


class ClassifierKind(StrEnum):
    SVM = "svm"
    RF = "rf"
    LR = "lr"
    LDA = "lda"
    QDA = "qda"
    GNB = "gnb"
    ADABOOST = "adaboost"
    XGBOOST = "xgboost"


@dataclass(frozen=True)
class WorkflowSpec:
    """A sampled workflow, JSON-serialisable (it goes into the bundle manifest)."""

    seed: int
    imputer: dict[str, Any]
    groups: tuple[str, ...]
    variance: bool
    selector: dict[str, Any]
    resampler: dict[str, Any]
    classifier: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["groups"] = list(self.groups)
        return d


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(np.log10(lo), np.log10(hi)))


def _classifier(rng: np.random.Generator, kind: ClassifierKind) -> dict[str, Any]:
    p: dict[str, Any] = {"kind": kind.value}
    if kind is ClassifierKind.SVM:
        p.update(kernel=str(rng.choice(["linear", "rbf", "poly"])), C=_loguniform(rng, 1e-2, 1e3),
                 gamma=_loguniform(rng, 1e-4, 1.0), degree=int(rng.integers(2, 5)),
                 coef0=float(rng.uniform(0, 1)))
    elif kind is ClassifierKind.RF:
        p.update(n_estimators=int(rng.integers(10, 100)),
                 min_samples_split=int(rng.integers(2, 10)),
                 max_depth=[None, 3, 5, 8][int(rng.integers(0, 4))],
                 max_features=str(rng.choice(["sqrt", "log2"])))
    elif kind is ClassifierKind.LR:
        p.update(C=_loguniform(rng, 1e-3, 1e2), l1=bool(rng.random() < 0.5),
                 balanced=bool(rng.random() < 0.5))
    elif kind is ClassifierKind.LDA:
        p.update(shrinkage=float(rng.uniform(0.0, 1.0)))
    elif kind is ClassifierKind.QDA:
        p.update(reg_param=float(rng.uniform(0.0, 1.0)))
    elif kind is ClassifierKind.GNB:
        p.update(var_smoothing=_loguniform(rng, 1e-9, 1e-1))
    elif kind is ClassifierKind.ADABOOST:
        p.update(n_estimators=int(rng.integers(10, 100)),
                 learning_rate=_loguniform(rng, 0.01, 1.0))
    elif kind is ClassifierKind.XGBOOST:
        p.update(n_estimators=int(rng.integers(10, 100)), max_depth=int(rng.integers(2, 7)),
                 learning_rate=_loguniform(rng, 0.01, 0.3),
                 subsample=float(rng.uniform(0.5, 1.0)),
                 colsample_bytree=float(rng.uniform(0.3, 1.0)),
                 min_child_weight=int(rng.integers(1, 6)))
    return p


def sample_workflow(seed: int, available_groups: tuple[str, ...],
                    classifiers: tuple[ClassifierKind, ...] = tuple(ClassifierKind)
                    ) -> WorkflowSpec:
    """Draw one workflow; everything random comes from ``seed``."""
    rng = np.random.default_rng(seed)
    imp = str(rng.choice(["mean", "median", "knn"]))  # most_frequent: meaningless on floats
    groups = tuple(g for g in available_groups if rng.random() < 0.5) or available_groups
    u = rng.random()
    if u < 0.35:
        sel: dict[str, Any] = {"kind": "none"}
    elif u < 0.55:
        sel = {"kind": "mannwhitney", "threshold": float(rng.choice([0.01, 0.05, 0.1, 0.2]))}
    elif u < 0.7:
        sel = {"kind": "relief", "fraction": float(rng.uniform(0.05, 0.5))}
    elif u < 0.85:
        sel = {"kind": "selectfrommodel", "C": _loguniform(rng, 0.05, 10.0)}
    else:
        sel = {"kind": "pca", "variance": float(rng.uniform(0.8, 0.99))}
    r = rng.random()
    if r < 0.5:
        res: dict[str, Any] = {"kind": "none"}
    else:
        res = {"kind": str(rng.choice(["over", "under", "smote"])),
               "k": int(rng.integers(2, 6))}
    kind = classifiers[int(rng.integers(0, len(classifiers)))]
    return WorkflowSpec(seed=seed, imputer={"kind": imp}, groups=groups,
                        variance=bool(rng.random() < 0.5), selector=sel, resampler=res,
                        classifier=_classifier(rng, ClassifierKind(kind)))


def _make_classifier(p: dict[str, Any], seed: int) -> Any:
    kind = ClassifierKind(p["kind"])
    if kind is ClassifierKind.SVM:
        svc = SVC(kernel=p["kernel"], C=p["C"], gamma=p["gamma"], degree=p["degree"],
                  coef0=p["coef0"], random_state=seed)
        # Platt scaling for posteriors (sklearn >= 1.9 replacement of probability=True)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)
    if kind is ClassifierKind.RF:
        return RandomForestClassifier(n_estimators=p["n_estimators"],
                                      min_samples_split=p["min_samples_split"],
                                      max_depth=p["max_depth"], max_features=p["max_features"],
                                      random_state=seed, n_jobs=1)
    if kind is ClassifierKind.LR:
        return LogisticRegression(C=p["C"], l1_ratio=1.0 if p["l1"] else 0.0,
                                  solver="liblinear" if p["l1"] else "lbfgs", max_iter=2000,
                                  class_weight="balanced" if p["balanced"] else None)
    if kind is ClassifierKind.LDA:
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=p["shrinkage"])
    if kind is ClassifierKind.QDA:
        return QuadraticDiscriminantAnalysis(reg_param=p["reg_param"])
    if kind is ClassifierKind.GNB:
        return GaussianNB(var_smoothing=p["var_smoothing"])
    if kind is ClassifierKind.ADABOOST:
        return AdaBoostClassifier(n_estimators=p["n_estimators"],
                                  learning_rate=p["learning_rate"], random_state=seed)
    return XGBClassifier(n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                         learning_rate=p["learning_rate"], subsample=p["subsample"],
                         colsample_bytree=p["colsample_bytree"],
                         min_child_weight=p["min_child_weight"], tree_method="hist",
                         n_jobs=1, random_state=seed, verbosity=0)


def build_pipeline(spec: WorkflowSpec, feature_groups: tuple[str, ...]) -> Pipeline:
    """The imblearn pipeline for ``spec`` over columns labelled ``feature_groups``."""
    imp = (KNNImputer(n_neighbors=5) if spec.imputer["kind"] == "knn"
           else SimpleImputer(strategy=spec.imputer["kind"], keep_empty_features=True))
    s = spec.selector
    if s["kind"] == "mannwhitney":
        sel: Any = MannWhitneySelector(s["threshold"])
    elif s["kind"] == "relief":
        sel = ReliefSelector(s["fraction"])
    elif s["kind"] == "selectfrommodel":
        sel = SelectFromModel(LogisticRegression(C=s["C"], l1_ratio=1.0, solver="liblinear"),
                              threshold="mean")
    elif s["kind"] == "pca":
        sel = PCA(n_components=s["variance"], svd_solver="full")
    else:
        sel = "passthrough"
    r = spec.resampler
    if r["kind"] == "over":
        res: Any = RandomOverSampler(random_state=spec.seed)
    elif r["kind"] == "under":
        res = RandomUnderSampler(random_state=spec.seed)
    elif r["kind"] == "smote":
        res = SMOTE(k_neighbors=r["k"], random_state=spec.seed)
    else:
        res = "passthrough"
    return Pipeline([
        ("impute", imp),
        ("groups", GroupSelector(feature_groups, spec.groups)),
        ("scale", RobustZScore()),
        ("variance", VarianceThreshold(1e-6) if spec.variance else "passthrough"),
        ("select", sel),
        ("resample", res),
        ("classify", _make_classifier(spec.classifier, spec.seed)),
    ])
