"""The WORC search space: one random *workflow* = one preprocessing + selection + resampling +
classifier combination with sampled hyper-parameters (Starmans et al., WORC 3.x).

Order of steps (WORC): imputation → groupwise feature selection → robust z-scoring (5–95th
percentile) → variance threshold → optional univariate Mann–Whitney / RELIEF /
SelectFromModel / PCA → optional resampling → classifier. Learning rates of AdaBoost and
XGBoost are drawn log-uniformly from [0.01, 1] and [0.01, 0.3]; WORC's 10^U(0.01, 1) draws
values of about 1–10 and is deliberately not copied.

Every step is a typed, frozen pydantic model with a ``Literal`` ``kind`` (the discriminator
the bundle manifest has always stored) and a ``build()`` that makes its scikit-learn /
imbalanced-learn object; a classifier step also knows how to ``sample`` its hyper-parameters.
Adding a selector or classifier is one class here plus its entry in the union (and, for a
classifier, in :data:`CLASSIFIERS`) — no parallel if/elif ladders.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from imblearn.pipeline import Pipeline
from pydantic import BaseModel, ConfigDict, Field


class ClassifierKind(StrEnum):
    SVM = "svm"
    RF = "rf"
    LR = "lr"
    LDA = "lda"
    QDA = "qda"
    GNB = "gnb"
    ADABOOST = "adaboost"
    XGBOOST = "xgboost"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(np.log10(lo), np.log10(hi)))


# -- imputation ------------------------------------------------------------------------------
class Imputer(_Step):
    kind: Literal["mean", "median", "knn"]  # most_frequent: meaningless on floats

    def build(self) -> Any:
        from sklearn.impute import KNNImputer, SimpleImputer

        if self.kind == "knn":
            return KNNImputer(n_neighbors=5)
        return SimpleImputer(strategy=self.kind, keep_empty_features=True)


# -- feature selection after scaling ---------------------------------------------------------
class NoSelector(_Step):
    kind: Literal["none"] = "none"

    def build(self) -> Any:
        return "passthrough"


class MannWhitney(_Step):
    kind: Literal["mannwhitney"] = "mannwhitney"
    threshold: float

    def build(self) -> Any:
        from node.classify.transforms import MannWhitneySelector

        return MannWhitneySelector(self.threshold)


class Relief(_Step):
    kind: Literal["relief"] = "relief"
    fraction: float

    def build(self) -> Any:
        from node.classify.transforms import ReliefSelector

        return ReliefSelector(self.fraction)


class FromL1Model(_Step):
    kind: Literal["selectfrommodel"] = "selectfrommodel"
    C: float

    def build(self) -> Any:
        from sklearn.feature_selection import SelectFromModel
        from sklearn.linear_model import LogisticRegression

        return SelectFromModel(LogisticRegression(C=self.C, l1_ratio=1.0, solver="liblinear"),
                               threshold="mean")


class Pca(_Step):
    kind: Literal["pca"] = "pca"
    variance: float

    def build(self) -> Any:
        from sklearn.decomposition import PCA

        return PCA(n_components=self.variance, svd_solver="full")


Selector = Annotated[NoSelector | MannWhitney | Relief | FromL1Model | Pca, Field(discriminator="kind")]


# -- class-balance resampling ----------------------------------------------------------------
class NoResampler(_Step):
    kind: Literal["none"] = "none"

    def build(self, seed: int) -> Any:
        return "passthrough"


class Resampler(_Step):
    """Random over/under-sampling or SMOTE; ``k`` (neighbours) is used by SMOTE only but was
    always drawn, so it stays in the manifest."""

    kind: Literal["over", "under", "smote"]
    k: int

    def build(self, seed: int) -> Any:
        from imblearn.over_sampling import SMOTE, RandomOverSampler
        from imblearn.under_sampling import RandomUnderSampler

        if self.kind == "over":
            return RandomOverSampler(random_state=seed)
        if self.kind == "under":
            return RandomUnderSampler(random_state=seed)
        return SMOTE(k_neighbors=self.k, random_state=seed)


AnyResampler = Annotated[NoResampler | Resampler, Field(discriminator="kind")]


# -- classifiers -----------------------------------------------------------------------------
class Svm(_Step):
    kind: Literal["svm"] = "svm"
    kernel: Literal["linear", "rbf", "poly"]
    C: float
    gamma: float
    degree: int
    coef0: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Svm:
        return cls(kernel=str(rng.choice(["linear", "rbf", "poly"])), C=_loguniform(rng, 1e-2, 1e3),
                   gamma=_loguniform(rng, 1e-4, 1.0), degree=int(rng.integers(2, 5)),
                   coef0=float(rng.uniform(0, 1)))

    def build(self, seed: int) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        svc = SVC(kernel=self.kernel, C=self.C, gamma=self.gamma, degree=self.degree,
                  coef0=self.coef0, random_state=seed)
        # Platt scaling for posteriors (sklearn >= 1.9 replacement of probability=True)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)


class RandomForest(_Step):
    kind: Literal["rf"] = "rf"
    n_estimators: int
    min_samples_split: int
    max_depth: int | None
    max_features: Literal["sqrt", "log2"]

    @classmethod
    def sample(cls, rng: np.random.Generator) -> RandomForest:
        return cls(n_estimators=int(rng.integers(10, 100)), min_samples_split=int(rng.integers(2, 10)),
                   max_depth=[None, 3, 5, 8][int(rng.integers(0, 4))],
                   max_features=str(rng.choice(["sqrt", "log2"])))

    def build(self, seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=self.n_estimators,
                                      min_samples_split=self.min_samples_split,
                                      max_depth=self.max_depth, max_features=self.max_features,
                                      random_state=seed, n_jobs=1)


class LogReg(_Step):
    kind: Literal["lr"] = "lr"
    C: float
    l1: bool
    balanced: bool

    @classmethod
    def sample(cls, rng: np.random.Generator) -> LogReg:
        return cls(C=_loguniform(rng, 1e-3, 1e2), l1=bool(rng.random() < 0.5),
                   balanced=bool(rng.random() < 0.5))

    def build(self, seed: int) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, l1_ratio=1.0 if self.l1 else 0.0,
                                  solver="liblinear" if self.l1 else "lbfgs", max_iter=2000,
                                  class_weight="balanced" if self.balanced else None)


class Lda(_Step):
    kind: Literal["lda"] = "lda"
    shrinkage: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Lda:
        return cls(shrinkage=float(rng.uniform(0.0, 1.0)))

    def build(self, seed: int) -> Any:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=self.shrinkage)


class Qda(_Step):
    """QDA with each class covariance shrunk towards a scaled identity by ``reg_param``.

    With ~100 cases and hundreds of features a class covariance is singular, and scikit-learn's
    default (SVD) QDA refuses it whatever ``reg_param`` is: in ``lipo-node bench automl`` 12 of
    100 workflows (every QDA without a strong reduction first) ended without an AUC. The eigen
    solver with shrinkage fits them; ``reg_param`` keeps its name and draw (manifests), and a
    floor of 0.01 keeps the shrunk covariance invertible.
    """

    kind: Literal["qda"] = "qda"
    reg_param: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Qda:
        return cls(reg_param=float(rng.uniform(0.0, 1.0)))

    def build(self, seed: int) -> Any:
        from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

        return QuadraticDiscriminantAnalysis(solver="eigen", shrinkage=max(self.reg_param, 0.01))


class NaiveBayes(_Step):
    kind: Literal["gnb"] = "gnb"
    var_smoothing: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> NaiveBayes:
        return cls(var_smoothing=_loguniform(rng, 1e-9, 1e-1))

    def build(self, seed: int) -> Any:
        from sklearn.naive_bayes import GaussianNB

        return GaussianNB(var_smoothing=self.var_smoothing)


class AdaBoost(_Step):
    kind: Literal["adaboost"] = "adaboost"
    n_estimators: int
    learning_rate: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> AdaBoost:
        return cls(n_estimators=int(rng.integers(10, 100)), learning_rate=_loguniform(rng, 0.01, 1.0))

    def build(self, seed: int) -> Any:
        from sklearn.ensemble import AdaBoostClassifier

        return AdaBoostClassifier(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                  random_state=seed)


class XGBoost(_Step):
    kind: Literal["xgboost"] = "xgboost"
    n_estimators: int
    max_depth: int
    learning_rate: float
    subsample: float
    colsample_bytree: float
    min_child_weight: int

    @classmethod
    def sample(cls, rng: np.random.Generator) -> XGBoost:
        return cls(n_estimators=int(rng.integers(10, 100)), max_depth=int(rng.integers(2, 7)),
                   learning_rate=_loguniform(rng, 0.01, 0.3), subsample=float(rng.uniform(0.5, 1.0)),
                   colsample_bytree=float(rng.uniform(0.3, 1.0)),
                   min_child_weight=int(rng.integers(1, 6)))

    def build(self, seed: int) -> Any:
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                             learning_rate=self.learning_rate, subsample=self.subsample,
                             colsample_bytree=self.colsample_bytree,
                             min_child_weight=self.min_child_weight, tree_method="hist",
                             n_jobs=1, random_state=seed, verbosity=0)


Classifier = Annotated[Svm | RandomForest | LogReg | Lda | Qda | NaiveBayes | AdaBoost | XGBoost,
                       Field(discriminator="kind")]

#: classifier kind → its step (what :func:`sample_workflow` draws from)
CLASSIFIERS: dict[ClassifierKind, Any] = {
    ClassifierKind.SVM: Svm, ClassifierKind.RF: RandomForest, ClassifierKind.LR: LogReg,
    ClassifierKind.LDA: Lda, ClassifierKind.QDA: Qda, ClassifierKind.GNB: NaiveBayes,
    ClassifierKind.ADABOOST: AdaBoost, ClassifierKind.XGBOOST: XGBoost,
}


# -- the workflow ----------------------------------------------------------------------------
class WorkflowSpec(_Step):
    """A sampled workflow; its JSON (``to_json``) is what bundle manifests store per member."""

    seed: int
    imputer: Imputer
    groups: tuple[str, ...]
    variance: bool
    selector: Selector
    resampler: AnyResampler
    classifier: Classifier

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Bundles pickled before the typed steps hold the old frozen dataclass's plain field
        dict; validate it into this model so they still load."""
        if "__dict__" not in state:
            state = WorkflowSpec.model_validate(state).__getstate__()
        super().__setstate__(state)


def sample_workflow(seed: int, available_groups: tuple[str, ...],
                    classifiers: tuple[ClassifierKind, ...] = tuple(ClassifierKind)
                    ) -> WorkflowSpec:
    """Draw one workflow; everything random comes from ``seed`` (draw order is fixed: the same
    seed gives the same workflow as in every earlier version)."""
    rng = np.random.default_rng(seed)
    imp = str(rng.choice(["mean", "median", "knn"]))
    groups = tuple(g for g in available_groups if rng.random() < 0.5) or available_groups
    u = rng.random()
    sel: Any
    if u < 0.35:
        sel = NoSelector()
    elif u < 0.55:
        sel = MannWhitney(threshold=float(rng.choice([0.01, 0.05, 0.1, 0.2])))
    elif u < 0.7:
        sel = Relief(fraction=float(rng.uniform(0.05, 0.5)))
    elif u < 0.85:
        sel = FromL1Model(C=_loguniform(rng, 0.05, 10.0))
    else:
        sel = Pca(variance=float(rng.uniform(0.8, 0.99)))
    res: Any
    if rng.random() < 0.5:
        res = NoResampler()
    else:
        res = Resampler(kind=str(rng.choice(["over", "under", "smote"])), k=int(rng.integers(2, 6)))
    kind = ClassifierKind(classifiers[int(rng.integers(0, len(classifiers)))])
    variance = bool(rng.random() < 0.5)
    return WorkflowSpec(seed=seed, imputer=Imputer(kind=imp), groups=groups, variance=variance,
                        selector=sel, resampler=res, classifier=CLASSIFIERS[kind].sample(rng))


def build_pipeline(spec: WorkflowSpec, feature_groups: tuple[str, ...]) -> Pipeline:
    """The imblearn pipeline for ``spec`` over columns labelled ``feature_groups``."""
    from sklearn.feature_selection import VarianceThreshold

    from node.classify.transforms import GroupSelector, RobustZScore

    return Pipeline([
        ("impute", spec.imputer.build()),
        ("groups", GroupSelector(feature_groups, spec.groups)),
        ("scale", RobustZScore()),
        ("variance", VarianceThreshold(1e-6) if spec.variance else "passthrough"),
        ("select", spec.selector.build()),
        ("resample", spec.resampler.build(spec.seed)),
        ("classify", spec.classifier.build(spec.seed)),
    ])
