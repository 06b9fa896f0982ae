"""What a user writes by hand for image uploads: FastAPI + python-multipart + Pillow + ONNX Runtime.

    MODEL=path/model.onnx uvicorn benchmarks.peers.fastapi_upload:app --http httptools --loop uvloop
POST /predict, multipart/form-data with a file part "images" -> {"predictions": [[...]]}

The same preprocessing as benchmarks/images.py declares for Moorings: EXIF orientation, RGB,
bilinear resize to 224x224, pixel / 255, ImageNet mean and std, NHWC float32, batch of one.
"""

from __future__ import annotations

import io
import os

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, File, Response, UploadFile
from PIL import Image, ImageOps

options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("THREADS", "1"))
session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
app = FastAPI()


@app.post("/predict")
async def predict(images: UploadFile = File(...)) -> Response:  # noqa: B008 - FastAPI's own idiom
    data = await images.read()
    with Image.open(io.BytesIO(data)) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
    x = (np.asarray(rgb, dtype=np.float32) * np.float32(1 / 255) - MEAN) / STD
    y = session.run(None, {input_name: x[None]})[0]
    return Response(
        orjson.dumps({"predictions": y}, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
