"""TF Serving's warm-up file, written with TensorFlow's own TFRecordWriter, replayed on a real SavedModel."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from moorings.types import ModelRef, VersionState
from tests.warmup.test_warmup import Server

pytestmark = pytest.mark.tensorflow

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def _example(x: list[float]):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    return tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=x))})
    )


def prediction_logs(predict_x: np.ndarray) -> list[bytes]:
    """One PredictionLog of each kind warm-up replays, serialized."""
    import tensorflow as tf
    from tensorflow_serving.apis import (
        classification_pb2,
        inference_pb2,
        predict_pb2,
        prediction_log_pb2,
        regression_pb2,
    )

    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "any-name"  # as in TF Serving, the model loading runs it whatever this says
    predict.inputs["x"].CopyFrom(tf.make_tensor_proto(predict_x))
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x"
    classify.input.example_list.examples.append(_example([1.0, 2.0]))
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x"
    regress.input.example_list.examples.append(_example([3.0, 4.0]))
    multi = inference_pb2.MultiInferenceRequest()
    multi.tasks.add(method_name=CLASSIFY).model_spec.signature_name = "classify_x"
    multi.tasks.add(method_name=REGRESS).model_spec.signature_name = "regress_x"
    multi.input.example_list.examples.append(_example([5.0, 6.0]))
    logs = [
        prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=predict)),
        prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=classify)),
        prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=regress)),
        prediction_log_pb2.PredictionLog(
            multi_inference_log=prediction_log_pb2.MultiInferenceLog(request=multi)
        ),
    ]
    return [log.SerializeToString() for log in logs]


def write_warmup(folder: Path, records: list[bytes]) -> None:
    import tensorflow as tf

    extra = folder / "assets.extra"
    extra.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(extra / "tf_serving_warmup_requests")) as writer:
        for record in records:
            writer.write(record)


def test_every_kind_of_prediction_log_is_replayed_before_available(
    tf_models: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = Server(tmp_path / "repo")
    try:
        folder = tmp_path / "repo" / "mlp" / "1"
        shutil.copytree(tf_models / "examples", folder)
        write_warmup(folder, prediction_logs(np.ones((3, 2), np.float32)))
        with caplog.at_level(logging.INFO, logger="moorings.warmup"):
            server.poll()
        assert server.states() == {1: (VersionState.AVAILABLE, None)}
        assert "warmed up mlp version 1 with 5 request(s)" in caplog.text  # multi-inference: 2 tasks
        with server.manager.acquire(ModelRef("mlp")) as servable:
            assert servable.batcher is not None and servable.batcher.small_call_seconds is not None
    finally:
        server.close()


def test_a_prediction_log_the_model_refuses_fails_the_load_and_the_old_version_serves(
    tf_models: Path, tmp_path: Path
) -> None:
    server = Server(tmp_path / "repo")
    try:
        shutil.copytree(tf_models / "examples", tmp_path / "repo" / "mlp" / "1")
        server.poll()
        new = tmp_path / "repo" / "mlp" / "2"
        shutil.copytree(tf_models / "examples", new)
        records = prediction_logs(np.ones((3, 5), np.float32))  # x takes 2 columns, not 5
        write_warmup(new, records)
        server.poll()
        states = server.states()
        assert states[1] == (VersionState.AVAILABLE, None)
        assert states[2][0] is VersionState.END
        assert "warm-up failed at tf_serving_warmup_requests record 0: input 'x'" in (states[2][1] or "")
    finally:
        server.close()


def test_a_log_kind_warmup_cannot_replay_fails_the_load(tf_models: Path, tmp_path: Path) -> None:
    from tensorflow_serving.apis import prediction_log_pb2

    server = Server(tmp_path / "repo")
    try:
        folder = tmp_path / "repo" / "mlp" / "1"
        shutil.copytree(tf_models / "examples", folder)
        log = prediction_log_pb2.PredictionLog()
        log.session_run_log.SetInParent()
        write_warmup(folder, [*prediction_logs(np.ones((1, 2), np.float32)), log.SerializeToString()])
        server.poll()
        ((state, error),) = server.states().values()
        assert state is VersionState.END
        assert "record 4: holds a session_run_log log; warm-up replays predict" in (error or "")
    finally:
        server.close()
