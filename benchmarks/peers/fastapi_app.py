"""What a user writes by hand: FastAPI + orjson + ONNX Runtime, one route.

    MODEL=path/model.onnx uvicorn benchmarks.peers.fastapi_app:app --http httptools --loop uvloop
POST /predict {"x": [[...], ...]} -> {"y": [[...], ...]}
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, Request, Response

options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("THREADS", "1"))
session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> Response:
    x = np.asarray(orjson.loads(await request.body())["x"], dtype=np.float32)
    y = session.run(None, {input_name: x})[0]
    return Response(orjson.dumps({"y": y}, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")
