"""TensorProto <-> numpy, checked against TensorFlow's own make_tensor_proto / make_ndarray."""

from __future__ import annotations

import numpy as np
import pytest

from moorings import dtypes
from moorings.codecs import tensor_proto
from moorings.errors import InvalidArgument

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.tensorflow

NUMERIC = [d for d in dtypes.ALL if not d.is_string]


def _sample(dtype: np.dtype) -> np.ndarray:  # type: ignore[type-arg]
    if dtype == np.bool_:
        return np.array([[True, False, True], [False, False, True]])
    if dtype.kind == "f":
        return np.array([[0.5, -1.25, 3.0], [1e3, -0.0, 2.5]], dtype=dtype)
    info = np.iinfo(dtype)
    return np.array([[info.min, 0, info.max], [1, 2, 3]], dtype=dtype)


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.name)
def test_reads_what_tensorflow_writes(dtype: dtypes.DType) -> None:
    array = _sample(dtype.numpy)
    proto = tf.make_tensor_proto(array)
    assert proto.dtype == dtype.tf_enum
    decoded = tensor_proto.to_numpy(proto)
    assert decoded.dtype == dtype.numpy
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.name)
def test_tensorflow_reads_what_we_write(dtype: dtypes.DType) -> None:
    array = _sample(dtype.numpy)
    proto = tensor_proto.from_numpy(array, tf.make_tensor_proto(np.zeros(0)).__class__())
    back = tf.make_ndarray(proto)
    assert back.dtype == dtype.numpy
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    ("field", "dtype", "values", "expected"),
    [
        ("float_val", tf.float32, [1.5, 2.5], np.float32),
        ("double_val", tf.float64, [1.5, 2.5], np.float64),
        ("int_val", tf.int32, [-3, 4], np.int32),
        ("int_val", tf.int8, [-3, 4], np.int8),
        ("int_val", tf.uint8, [3, 250], np.uint8),
        ("int64_val", tf.int64, [-(2**40), 7], np.int64),
        ("uint32_val", tf.uint32, [2**31, 7], np.uint32),
        ("uint64_val", tf.uint64, [2**63, 7], np.uint64),
        ("bool_val", tf.bool, [True, False], np.bool_),
    ],
)
def test_typed_value_fields(field: str, dtype: object, values: list[object], expected: type) -> None:
    proto = tf.make_tensor_proto(np.zeros(0)).__class__()
    proto.dtype = dtype.as_datatype_enum  # type: ignore[attr-defined]
    proto.tensor_shape.dim.add().size = 2
    getattr(proto, field).extend(values)
    decoded = tensor_proto.to_numpy(proto)
    np.testing.assert_array_equal(decoded, np.array(values, dtype=expected))
    np.testing.assert_array_equal(decoded, tf.make_ndarray(proto))


def test_half_precision_in_half_val() -> None:
    values = np.array([0.5, -2.0, 65504.0], dtype=np.float16)
    proto = tf.make_tensor_proto(np.zeros(0)).__class__()
    proto.dtype = tf.float16.as_datatype_enum
    proto.tensor_shape.dim.add().size = 3
    proto.half_val.extend(values.view(np.uint16).tolist())
    np.testing.assert_array_equal(tensor_proto.to_numpy(proto), values)
    np.testing.assert_array_equal(tf.make_ndarray(proto), values)


def test_one_value_broadcasts_like_tensorflow() -> None:
    proto = tf.make_tensor_proto(7.0, shape=[2, 3])  # one float_val, shape [2, 3]
    assert len(proto.float_val) == 1 and not proto.tensor_content
    decoded = tensor_proto.to_numpy(proto)
    np.testing.assert_array_equal(decoded, tf.make_ndarray(proto))
    assert decoded.shape == (2, 3) and (decoded == 7.0).all()


def test_strings_both_ways() -> None:
    array = np.array([[b"a", "héllo".encode()], [b"\xff\x00", b""]], dtype=object)
    proto = tf.make_tensor_proto(array)
    decoded = tensor_proto.to_numpy(proto)
    assert decoded.shape == (2, 2) and decoded.tolist() == array.tolist()
    written = tensor_proto.from_numpy(decoded, proto.__class__())
    assert tf.make_ndarray(written).tolist() == array.tolist()


def test_scalar() -> None:
    proto = tf.make_tensor_proto(np.int64(5))
    decoded = tensor_proto.to_numpy(proto)
    assert decoded.shape == () and decoded == 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: setattr(p, "tensor_content", b"\x00" * 5), "tensor_content has 5 bytes"),
        (lambda p: p.float_val.extend([1.0] * 7), "float_val has 7 values"),
        (lambda p: setattr(p, "dtype", 20), "dtype enum 20"),
        (lambda p: setattr(p.tensor_shape, "unknown_rank", True), "unknown_rank"),
        (lambda p: p.tensor_shape.dim.add().__setattr__("size", 2**40), "too many elements"),
    ],
)
def test_bad_protos_name_the_problem(mutate: object, message: str) -> None:
    proto = tf.make_tensor_proto(np.zeros(0)).__class__()
    proto.dtype = tf.float32.as_datatype_enum
    proto.tensor_shape.dim.add().size = 2
    proto.tensor_shape.dim.add().size = 3
    mutate(proto)  # type: ignore[operator]
    with pytest.raises(InvalidArgument, match=message):
        tensor_proto.to_numpy(proto, "input 'x'")


def test_check_dtype() -> None:
    ints = np.array([1, 2], dtype=np.int32)
    assert tensor_proto.check_dtype(ints, dtypes.FLOAT32, "x").dtype == np.float32
    assert tensor_proto.check_dtype(ints, dtypes.by_name("int32"), "x") is ints
    with pytest.raises(InvalidArgument, match="input 'x' is DT_STRING but the model expects DT_FLOAT"):
        tensor_proto.check_dtype(np.array([b"a"], dtype=object), dtypes.FLOAT32, "input 'x'")
    with pytest.raises(InvalidArgument, match="is DT_FLOAT but the model expects DT_INT64"):
        tensor_proto.check_dtype(np.zeros(2, np.float32), dtypes.INT64, "input 'x'")


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.name)
def test_typed_fields_as_tf_serving_writes_them(dtype: dtypes.DType) -> None:
    array = _sample(dtype.numpy)
    proto = tensor_proto.from_numpy(array, tf.make_tensor_proto(np.zeros(0)).__class__(), typed=True)
    assert not proto.tensor_content
    np.testing.assert_array_equal(tf.make_ndarray(proto), array)
    np.testing.assert_array_equal(tensor_proto.to_numpy(proto), array)
    if dtype.numpy == np.float32:
        assert list(proto.float_val) == array.reshape(-1).tolist()
