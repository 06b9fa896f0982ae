"""Token files: parsing, start-up errors, constant-time checks, reloads."""

from __future__ import annotations

import logging
import os
import string
from pathlib import Path

import pytest

from moorings.auth.tokens import TokenFile, parse_tokens, read_token_file
from moorings.errors import InvalidArgument

SECRET = b"s3cr3t-token-0123456789abcdef"
OTHER = b"another-token"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_comments_blank_lines_and_whitespace_are_ignored() -> None:
    text = b"# the tokens of the ops team\n\n  alpha  \n\t# indented comment\nbeta\r\n\n"
    assert parse_tokens(text, "--auth-token-file") == [b"alpha", b"beta"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "holds no token"),
        ("# only a comment\n\n", "holds no token"),
        ("good\nbad token\n", "line 2 is not a token"),
        ("caf\u00e9\n", "line 1 is not a token"),
    ],
)
def test_a_file_without_usable_tokens_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = write(tmp_path / "tokens", content)
    with pytest.raises(InvalidArgument, match=problem) as caught:
        TokenFile(path)
    assert "--auth-token-file" in caught.value.message
    assert "token\n" not in caught.value.message and "bad token" not in caught.value.message


def test_missing_and_folder_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no such file"):
        read_token_file(tmp_path / "absent", "--admin-token-file")
    with pytest.raises(InvalidArgument, match="is a folder"):
        read_token_file(tmp_path, "--admin-token-file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "tokens", "abc\n")
    path.chmod(0)
    with pytest.raises(InvalidArgument, match="cannot be read"):
        read_token_file(path, "--auth-token-file")


def test_every_token_of_the_file_is_accepted(tmp_path: Path) -> None:
    tokens = TokenFile(write(tmp_path / "t", f"{SECRET.decode()}\n{OTHER.decode()}\n"))
    assert tokens.count == 2
    assert tokens.allows(SECRET) and tokens.allows(OTHER)
    assert not tokens.allows(None)


def test_wrong_tokens_of_every_length_are_refused(tmp_path: Path) -> None:
    """Prefixes, extensions, one character changed, and unrelated tokens of every length up to twice
    the real one's: none is taken (the check compares fixed-length digests, so no length is special)."""
    tokens = TokenFile(write(tmp_path / "t", SECRET.decode() + "\n"))
    wrong: list[bytes] = []
    for length in range(2 * len(SECRET) + 2):
        wrong.append(SECRET[:length])  # every prefix, the empty token included
        wrong.append(b"x" * length)
        wrong.append(SECRET + b"x" * length)  # every extension
    for i in range(len(SECRET)):
        changed = bytearray(SECRET)
        changed[i] = ord("A") if changed[i] != ord("A") else ord("B")
        wrong.append(bytes(changed))
    wrong += [SECRET.upper(), b" " + SECRET, SECRET + b"\n", string.printable.encode()]
    refused = [w for w in wrong if w != SECRET and not tokens.allows(w)]
    assert len(refused) == len([w for w in wrong if w != SECRET])
    assert tokens.allows(SECRET)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path / "t", "first-token\n")
    tokens = TokenFile(path, check_seconds=0)
    assert tokens.allows(b"first-token")
    write(path, "second-token\nthird-token\n")
    os.utime(path, ns=(1, 1))  # a different modification time even within the clock's resolution
    assert tokens.allows(b"second-token") and tokens.allows(b"third-token")
    assert not tokens.allows(b"first-token")
    assert tokens.count == 2


def test_changes_are_looked_for_at_most_once_per_interval(tmp_path: Path) -> None:
    path = write(tmp_path / "t", "first-token\n")
    tokens = TokenFile(path, check_seconds=3600)
    write(path, "second-token\n")
    os.utime(path, ns=(1, 1))
    assert tokens.allows(b"first-token") and not tokens.allows(b"second-token")
    assert tokens.reload()  # SIGHUP and the admin API read it at once
    assert tokens.allows(b"second-token") and not tokens.allows(b"first-token")


def test_a_broken_reload_keeps_the_tokens_and_never_logs_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "t", "kept-token-value\n")
    tokens = TokenFile(path, check_seconds=0)
    caplog.set_level(logging.INFO)
    write(path, "# emptied by mistake\n")
    os.utime(path, ns=(1, 1))
    assert tokens.allows(b"kept-token-value")
    path.unlink()
    assert not tokens.reload()
    assert tokens.allows(b"kept-token-value")
    assert "holds no token" in caplog.text and "no such file" in caplog.text
    write(path, "new-token-value\n")
    assert tokens.reload()
    assert "kept-token-value" not in caplog.text and "new-token-value" not in caplog.text
