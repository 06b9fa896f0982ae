"""Reading a version's class names: labels.txt / labels.json in its folder or its assets/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moorings.core.labels import MAX_LABELS, MAX_LABELS_BYTES, find_labels
from moorings.errors import LoadError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "m" / "1"
    folder.mkdir(parents=True)
    return (tmp_path / "repo").resolve()


def folder(root: Path) -> Path:
    return root / "m" / "1"


def test_no_labels_file_is_none(root: Path) -> None:
    assert find_labels(root, folder(root)) is None


@pytest.mark.parametrize(
    ("name", "raw", "names"),
    [
        ("labels.txt", b"tabby cat\nbeagle\ngoldfish\n", ("tabby cat", "beagle", "goldfish")),
        ("labels.txt", b"\xef\xbb\xbfa\r\nb\r\n\r\n\n", ("a", "b")),  # BOM, CRLF, trailing blank lines
        (
            "labels.txt",
            "na\u00efve\n\nlast".encode(),
            ("na\u00efve", "", "last"),
        ),  # a blank name keeps its index
        ("labels.json", b'["tabby cat", "beagle"]', ("tabby cat", "beagle")),
        ("assets/labels.txt", b"x\ny\n", ("x", "y")),
        ("assets/labels.json", b'["x"]', ("x",)),
    ],
)
def test_names_are_read(root: Path, name: str, raw: bytes, names: tuple[str, ...]) -> None:
    path = folder(root) / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    assert find_labels(root, folder(root)) == names


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        (
            "labels.txt",
            b"a\n" * (MAX_LABELS + 1),
            f"labels.txt holds {MAX_LABELS + 1} labels; at most {MAX_LABELS}",
        ),
        ("labels.txt", b"x" * (MAX_LABELS_BYTES + 1), f"labels.txt is larger than {MAX_LABELS_BYTES} bytes"),
        ("labels.txt", b"cat\n\xff\xfedog\n", "labels.txt is not UTF-8 text (bad byte at offset 4)"),
        ("labels.txt", b"\n\n", "labels.txt holds no labels"),
        ("labels.json", b'{"0": "cat"}', "labels.json must be a JSON list of strings"),
        ("labels.json", b'["cat", 1]', "labels.json must be a JSON list of strings"),
        ("labels.json", b'["cat"', "labels.json is not valid JSON"),
        ("assets/labels.json", b"[]", "assets/labels.json holds no labels"),
    ],
)
def test_bad_files_fail_with_a_clear_message(root: Path, name: str, raw: bytes, message: str) -> None:
    path = folder(root) / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    with pytest.raises(LoadError) as error:
        find_labels(root, folder(root))
    assert message in error.value.message


def test_two_labels_files_are_refused(root: Path) -> None:
    (folder(root) / "labels.txt").write_text("a\n")
    (folder(root) / "assets").mkdir()
    (folder(root) / "assets" / "labels.json").write_text('["a"]')
    with pytest.raises(LoadError, match=r"several labels files \(labels.txt, assets/labels.json\)"):
        find_labels(root, folder(root))


def test_a_link_out_of_the_repository_is_refused_unread(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read\n")
    (folder(root) / "labels.txt").symlink_to(secret)
    with pytest.raises(LoadError) as error:
        find_labels(root, folder(root))
    assert error.value.message == "labels.txt is a link that leaves the model repository (or is broken)"
    assert str(tmp_path) not in error.value.message


def test_a_link_inside_the_repository_is_followed(root: Path) -> None:
    (root / "shared.txt").write_text("a\nb\n")
    (folder(root) / "labels.txt").symlink_to(root / "shared.txt")
    assert find_labels(root, folder(root)) == ("a", "b")


def test_a_fifo_is_not_read(root: Path) -> None:
    os.mkfifo(folder(root) / "labels.txt")  # a read would block: refused after a non-blocking open
    with pytest.raises(LoadError, match=r"labels\.txt is not a regular file"):
        find_labels(root, folder(root))


def test_a_folder_named_like_a_labels_file_is_refused(root: Path) -> None:
    (folder(root) / "labels.json").mkdir()
    with pytest.raises(LoadError, match=r"labels\.json is not a regular file"):
        find_labels(root, folder(root))
