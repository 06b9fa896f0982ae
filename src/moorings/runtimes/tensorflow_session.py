"""SavedModels run as TensorFlow 1 graphs in a session, as TensorFlow Serving runs them.

``tf.saved_model.load`` restores a SavedModel as TF2 functions; some graphs written by TF1's
``SavedModelBuilder`` cannot be restored that way (TensorFlow Serving's own test model
``saved_model_half_plus_three`` fails with "Shapes must be equal rank"), while TF1's loader runs
them. :class:`SessionModel` is that loader: the graph in its own ``tf.Graph`` and session, each
signature run by feeding and fetching the tensor names its SignatureDef records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moorings.types import Signature, Tensors


class SessionModel:
    def __init__(self, tf: Any, path: Path, intra_op_threads: int) -> None:
        self._graph = tf.Graph()
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra_op_threads)
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        try:
            tf.compat.v1.saved_model.loader.load(self._session, ["serve"], str(path))
        except Exception:
            self._session.close()
            raise

    def run(self, signature: Signature, inputs: Tensors) -> Tensors:
        """The signature's outputs for checked inputs (tensor names from its SignatureDef)."""
        feeds = {signature.inputs[name].tensor_name: value for name, value in inputs.items()}
        fetches = {name: spec.tensor_name for name, spec in signature.outputs.items()}
        results: Tensors = self._session.run(fetches, feed_dict=feeds)
        return results

    def close(self) -> None:
        self._session.close()
