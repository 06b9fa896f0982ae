import pickle

import numpy as np
import pytest

from moorings import dtypes


def test_from_numpy_finds_each_row_and_strings() -> None:
    for dtype in dtypes.ALL:
        if not dtype.is_string:
            assert dtypes.from_numpy(dtype.numpy) is dtype
    for text in ("O", "U3", "S2"):
        assert dtypes.from_numpy(np.dtype(text)) is dtypes.STRING
    assert dtypes.from_numpy(np.float32) is dtypes.FLOAT32


def test_big_endian_dtypes_are_refused() -> None:
    with pytest.raises(KeyError, match="unsupported numpy dtype"):
        dtypes.from_numpy(np.dtype(">f4"))


def test_rows_compare_by_identity_and_survive_pickling() -> None:
    assert dtypes.by_name("float32") == dtypes.FLOAT32
    assert dtypes.FLOAT32 != dtypes.FLOAT64
    assert pickle.loads(pickle.dumps(dtypes.INT64)) is dtypes.INT64
    assert {dtypes.FLOAT32: 1}[dtypes.from_v2("FP32")] == 1


def test_little_is_the_little_endian_layout() -> None:
    assert dtypes.FLOAT32.little.str == "<f4"
    assert dtypes.by_name("uint8").little.str == "|u1"
