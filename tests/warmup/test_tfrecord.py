"""TFRecord framing read without TensorFlow: CRC-32C, masking, and every way a file can be broken."""

from __future__ import annotations

import pytest

from moorings.errors import InvalidArgument
from moorings.warmup import tfrecord


def test_crc32c_matches_the_standard_check_value() -> None:
    # RFC 3720 (iSCSI) check value of CRC-32C over the ASCII digits 1..9
    assert tfrecord.crc32c(b"123456789") == 0xE3069283
    assert tfrecord.crc32c(bytes(32)) == 0x8A9136AA


def test_records_round_trip_in_order() -> None:
    payloads = [b"", b"a", bytes(range(256)) * 3]
    data = b"".join(tfrecord.encode_record(p) for p in payloads)
    assert list(tfrecord.records(data, limit=10)) == payloads


def test_an_empty_file_holds_no_records() -> None:
    assert list(tfrecord.records(b"", limit=10)) == []


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d[:5], "truncated in the header of record 1"),
        (lambda d: d[:-3], "truncated in record 1"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "data CRC of record 1"),
        (lambda d: d[:-9] + bytes([d[-9] ^ 1]) + d[-8:], "data CRC of record 1"),
    ],
)
def test_a_broken_file_names_the_record(mangle, message) -> None:  # type: ignore[no-untyped-def]
    first = tfrecord.encode_record(b"first")
    second = tfrecord.encode_record(b"second record")
    data = first + mangle(second)
    with pytest.raises(InvalidArgument, match=message):
        list(tfrecord.records(data, limit=10))


def test_a_corrupt_length_fails_its_crc_before_anything_is_read() -> None:
    record = bytearray(tfrecord.encode_record(b"payload"))
    record[7] = 0x7F  # a length of petabytes
    with pytest.raises(InvalidArgument, match="length CRC of record 0"):
        list(tfrecord.records(bytes(record), limit=10))


def test_more_records_than_the_limit_fail() -> None:
    data = tfrecord.encode_record(b"x") * 4
    assert len(list(tfrecord.records(data, limit=4))) == 4
    with pytest.raises(InvalidArgument, match="more than 3 records"):
        list(tfrecord.records(data, limit=3))


@pytest.mark.tensorflow
def test_reads_what_tensorflow_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import tensorflow as tf

    path = tmp_path / "file.tfrecord"
    payloads = [b"one", b"", b"three" * 1000]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for payload in payloads:
            writer.write(payload)
    assert list(tfrecord.records(path.read_bytes(), limit=10)) == payloads
    assert path.read_bytes() == b"".join(tfrecord.encode_record(p) for p in payloads)
