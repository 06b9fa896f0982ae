from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError
from moorings.runtimes.sklearn import SklearnRuntime
from tests.support import sklearn_models


def test_pipeline_from_skops_predicts_like_sklearn(tmp_path: Path) -> None:
    model, x = sklearn_models.iris_classifier()
    sklearn_models.write_skops(model, tmp_path)
    runtime = SklearnRuntime(tmp_path, RuntimeOptions())
    runtime.load()
    signature = runtime.signatures["serving_default"]
    assert signature.inputs["input"].shape == (-1, 4)
    out = runtime.predict(signature, {"input": x[:10]})
    np.testing.assert_array_equal(out["label"], model.predict(x[:10]))
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(x[:10]))


def test_classify_returns_class_probability_pairs(tmp_path: Path) -> None:
    model, x = sklearn_models.iris_classifier()
    sklearn_models.write_skops(model, tmp_path)
    runtime = SklearnRuntime(tmp_path, RuntimeOptions())
    runtime.load()
    result = runtime.classify(runtime.signatures["classification"], [{"input": list(x[0])}])
    assert result.labels == [["0", "1", "2"]]
    np.testing.assert_allclose(result.scores[0], model.predict_proba(x[:1])[0])
    with pytest.raises(InvalidArgument, match="example 0"):
        runtime.classify(runtime.signatures["classification"], [{"other": 1}])


def test_regressor_regresses(tmp_path: Path) -> None:
    model, x = sklearn_models.diabetes_regressor()
    sklearn_models.write_skops(model, tmp_path)
    runtime = SklearnRuntime(tmp_path, RuntimeOptions())
    runtime.load()
    values = runtime.regress(runtime.signatures["regression"], [{"input": list(r)} for r in x[:3]])
    np.testing.assert_allclose(values, model.predict(x[:3]))


def test_pickle_is_refused_unless_allowed(tmp_path: Path) -> None:
    model, x = sklearn_models.iris_classifier()
    sklearn_models.write_joblib(model, tmp_path)
    with pytest.raises(LoadError, match="--allow-unsafe-pickle"):
        SklearnRuntime(tmp_path, RuntimeOptions()).load()
    runtime = SklearnRuntime(tmp_path, RuntimeOptions(allow_unsafe_pickle=True))
    runtime.load()
    out = runtime.predict(runtime.signatures["serving_default"], {"input": x[:2]})
    np.testing.assert_array_equal(out["label"], model.predict(x[:2]))
