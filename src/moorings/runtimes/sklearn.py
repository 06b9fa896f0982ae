"""scikit-learn estimators: ``model.skops`` (safe) or ``model.joblib``/``model.pkl`` (opt-in).

The signature is derived from the estimator: one input ``input`` of shape
``[-1, n_features_in_]``; outputs ``label`` (``predict``) and, for classifiers
with ``predict_proba``, ``probabilities``. Classifiers answer ``:classify`` with
``(class, probability)`` pairs; regressors answer ``:regress``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError, Unimplemented
from moorings.runtimes.base import Runtime
from moorings.types import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    PREDICT_METHOD,
    REGRESS_METHOD,
    ClassifyResult,
    Example,
    Signature,
    Tensors,
    TensorSpec,
)

SKOPS_FILE = "model.skops"
PICKLE_FILES = ("model.joblib", "model.pkl")
INPUT = "input"


class SklearnRuntime(Runtime):
    kind = "sklearn"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._model: Any = None
        self._signatures: dict[str, Signature] = {}
        self._feature_names: list[str] | None = None

    def load(self) -> None:
        skops_file = self.path / SKOPS_FILE
        if skops_file.is_file():
            self._model = _load_skops(skops_file, self.options.trusted_types)
        else:
            pickled = next((self.path / f for f in PICKLE_FILES if (self.path / f).is_file()), None)
            if pickled is None:
                raise LoadError("no model.skops, model.joblib or model.pkl in the version folder")
            if not self.options.allow_unsafe_pickle:
                raise LoadError(
                    f"{pickled.name} is a pickle, which can run arbitrary code when loaded; "
                    "export the model with skops (model.skops), or start the server with "
                    "--allow-unsafe-pickle if you trust this file"
                )
            import joblib

            try:
                self._model = joblib.load(pickled)
            except Exception as exc:
                raise LoadError(f"{pickled.name} could not be unpickled: {exc}") from None
        self._signatures = self._derive_signatures()

    def _derive_signatures(self) -> dict[str, Signature]:
        model = self._model
        if not hasattr(model, "predict"):
            raise LoadError(f"the loaded object ({type(model).__name__}) has no predict method")
        n_features = getattr(model, "n_features_in_", None)
        names = getattr(model, "feature_names_in_", None)
        self._feature_names = [str(n) for n in names] if names is not None else None
        shape = (-1, int(n_features)) if n_features is not None else (-1, -1)
        inputs = {INPUT: TensorSpec(INPUT, dtypes.FLOAT64, shape)}
        classes = getattr(model, "classes_", None)
        label_dtype = dtypes.FLOAT64
        if classes is not None:
            label_dtype = dtypes.from_numpy(np.asarray(classes).dtype)
        outputs = {"label": TensorSpec("label", label_dtype, (-1,))}
        if hasattr(model, "predict_proba") and classes is not None:
            outputs["probabilities"] = TensorSpec("probabilities", dtypes.FLOAT64, (-1, len(classes)))
        signatures = {DEFAULT_SIGNATURE: Signature(DEFAULT_SIGNATURE, inputs, outputs, PREDICT_METHOD)}
        if classes is not None and hasattr(model, "predict_proba"):
            signatures["classification"] = Signature(
                "classification", inputs, {"scores": outputs["probabilities"]}, CLASSIFY_METHOD
            )
        elif classes is None:
            signatures["regression"] = Signature(
                "regression",
                inputs,
                {"outputs": TensorSpec("outputs", dtypes.FLOAT64, (-1,))},
                REGRESS_METHOD,
            )
        return signatures

    @property
    def signatures(self) -> dict[str, Signature]:
        return self._signatures

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        x = inputs[INPUT]
        outputs: Tensors = {}
        if "label" in signature.outputs:
            label = np.asarray(self._model.predict(x))
            outputs["label"] = label.astype(object) if label.dtype.kind == "U" else label
        if "probabilities" in signature.outputs or "scores" in signature.outputs:
            proba = np.asarray(self._model.predict_proba(x), dtype=np.float64)
            outputs["scores" if "scores" in signature.outputs else "probabilities"] = proba
        if "outputs" in signature.outputs:
            outputs["outputs"] = np.asarray(self._model.predict(x), dtype=np.float64)
        return outputs

    def _features(self, examples: list[Example]) -> np.ndarray:
        rows = []
        for i, example in enumerate(examples):
            if INPUT in example:
                rows.append(example[INPUT])
            elif self._feature_names is not None:
                missing = [n for n in self._feature_names if n not in example]
                if missing:
                    raise InvalidArgument(f"example {i} lacks feature(s): {', '.join(missing[:5])}")
                rows.append([example[n] for n in self._feature_names])
            else:
                raise InvalidArgument(f"example {i} needs an {INPUT!r} feature holding the feature vector")
        try:
            x = np.asarray(rows, dtype=np.float64)
        except (ValueError, TypeError):
            raise InvalidArgument("examples must hold numeric feature vectors of equal length") from None
        expected = self._signatures[DEFAULT_SIGNATURE].inputs[INPUT].shape
        if x.ndim != 2 or (expected is not None and expected[1] not in (-1, x.shape[1])):
            raise InvalidArgument(f"examples must hold {expected[1] if expected else 'n'} features each")
        return x

    def classify(self, signature: Signature, examples: list[Example]) -> ClassifyResult:
        if not hasattr(self._model, "predict_proba") or getattr(self._model, "classes_", None) is None:
            raise Unimplemented("this model is not a classifier with predict_proba")
        proba = np.asarray(self._model.predict_proba(self._features(examples)), dtype=np.float64)
        classes = np.asarray(self._model.classes_)
        labels = [str(c) for c in classes]
        named = classes.dtype.kind in "USO"  # numbers are not names: a labels file may name them
        return ClassifyResult(labels=[labels] * len(examples), scores=proba.tolist(), named=named)

    def regress(self, signature: Signature, examples: list[Example]) -> list[float]:
        if getattr(self._model, "classes_", None) is not None:
            raise Unimplemented("this model is a classifier; use :classify")
        values = np.asarray(self._model.predict(self._features(examples)), dtype=np.float64)
        return [float(v) for v in values.reshape(len(examples), -1)[:, 0]]

    def unload(self) -> None:
        self._model = None


def _load_skops(file: Path, trusted_types: tuple[str, ...]) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:
        raise LoadError(f"model.skops is not a valid skops file: {exc}") from None
    refused = [t for t in untrusted if t not in trusted_types]
    if refused:
        raise LoadError(
            "model.skops holds types that are not trusted by default: "
            + ", ".join(refused[:8])
            + "; list them in model.toml under [runtime] trusted_types if you trust them"
        )
    try:
        return sio.load(file, trusted=list(untrusted))
    except Exception as exc:
        raise LoadError(f"model.skops could not be loaded: {exc}") from None
