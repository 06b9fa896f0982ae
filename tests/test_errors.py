import pytest

from moorings.errors import first_line, hide_paths


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            'resolved path: "/etc/passwd" allowed: "/srv/repo/m/1"',
            'resolved path: "<path>" allowed: "<repository>/m/1"',
        ),
        (
            "File not found: filepath=/srv/repo/m/1/model.keras.",
            "File not found: filepath=<repository>/m/1/model.keras.",
        ),
        ("cannot open /srv/repo-old/m/1 here", "cannot open <path> here"),
        ("see C:\\models\\m\\1\\model.onnx", "see <path>"),
        (
            "node map/while/DecodeImage [Op:x] 1/2 http://a.b/c",
            "node map/while/DecodeImage [Op:x] 1/2 http://a.b/c",
        ),
        ("shape [-1, 4]", "shape [-1, 4]"),
    ],
)
def test_hide_paths_keeps_no_absolute_path(message: str, shown: str) -> None:
    assert hide_paths(message, "/srv/repo") == shown


def test_first_line_is_the_first_non_blank_line_cut_to_the_limit() -> None:
    assert first_line(ValueError("\n\n  first\nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(ValueError("x" * 400)) == "x" * 300
