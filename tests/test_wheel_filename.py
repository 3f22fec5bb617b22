"""mwheel.wheel.filename reads wheel file names exactly as packaging does (which it replaces
in the reader to keep ``packaging.tags`` out of start-up): same results, same refusals,
same messages, on edge cases and on every corpus wheel."""

from __future__ import annotations

import os
from pathlib import Path

import packaging
import pytest
from hostile import record_for, write_zip
from packaging.tags import InvalidTag, Tag
from packaging.tags import parse_tag as packaging_parse_tag
from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename as packaging_parse

from mwheel.cli import main
from mwheel.errors import WheelError
from mwheel.wheel import filename as ours

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))

# packaging 26.3 started refusing empty tag parts and non-identifier interpreters; the
# reader follows that behaviour whatever packaging is installed.
pytestmark = pytest.mark.skipif(
    tuple(int(p) for p in packaging.__version__.split(".")[:2]) < (26, 3),
    reason="compared with packaging >= 26.3",
)

NAMES = [
    "foo-1.0-py3-none-any.whl",
    "Foo.Bar_baz-1.0-py2.py3-none-any.whl",
    "foo__bar-1.0-py3-none-any.whl",
    "foo-1.0-1-py3-none-any.whl",
    "foo-1.0-12abc-py3-none-any.whl",
    "foo-1.0-abc-py3-none-any.whl",
    "foo-1.0-py3-none-any.zip",
    "foo-1.0-py3-none.whl",
    "foo-1.0-1-2-py3-none-any.whl",
    "foo-not.a.version-py3-none-any.whl",
    "-1.0-py3-none-any.whl",
    "fö_o-1.0-py3-none-any.whl",
    "foo+bar-1.0-py3-none-any.whl",
    "foo-1.0-CP311-ABI3-Win_AMD64.whl",
    "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "foo-1.0-cp39.cp310-abi3.none-macosx_11_0_arm64.macosx_10_9_x86_64.whl",
    "foo-1.0-cp311..cp312-none-any.whl",
    "foo-1.0-.cp311-none-any.whl",
    "foo-1.0-cp311-none-.whl",
    "foo-1.0-3x-none-any.whl",
    "foo-1.0--none-any.whl",
    "foo-1.0-py3-none-any.WHL",
    "foo-1.0.post1.dev2+local.7-py3-none-any.whl",
    "foo-v1.0rc1-py3-none-any.whl",
    "foo-1.0-0-py3-none-any.whl",
    "foo-1.0-007x_y-py3-none-any.whl",
    ".whl",
    "a-b-c-d-e.whl",
    "_Foo._-_bar-1.0-py3-none-any.whl",
    "a._b..c-1.0-py3-none-any.whl",
]

TAG_TEXTS = ["py3-none-any", "py2.py3-none-any", "a-b", "a-b-c-d", "a..b-c-d", "3-x-y", "A-B-C"]


def _same(name: str) -> None:
    try:
        expected = packaging_parse(name)
    except InvalidWheelFilename as exc:
        with pytest.raises(ours.InvalidWheelFilename) as caught:
            ours.parse_wheel_filename(name)
        assert str(caught.value) == str(exc)
        return
    got = ours.parse_wheel_filename(name)
    assert got[:3] == expected[:3]
    assert {str(t) for t in got[3]} == {str(t) for t in expected[3]}
    assert {(t.interpreter, t.abi, t.platform) for t in got[3]} == {
        (t.interpreter, t.abi, t.platform) for t in expected[3]
    }


@pytest.mark.parametrize("name", NAMES)
def test_file_name_read_as_packaging_reads_it(name: str) -> None:
    _same(name)


@pytest.mark.parametrize("text", TAG_TEXTS)
def test_tag_set_read_as_packaging_reads_it(text: str) -> None:
    try:
        expected = {str(t) for t in packaging_parse_tag(text)}
    except InvalidTag as exc:
        with pytest.raises(ours.InvalidTag) as caught:
            ours.parse_tag(text)
        assert str(caught.value) == str(exc)
        return
    assert {str(t) for t in ours.parse_tag(text)} == expected


def test_tags_are_values() -> None:
    a, b = ours.Tag("CP311", "abi3", "Win_AMD64"), ours.Tag("cp311", "ABI3", "win_amd64")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert str(a) == str(Tag("CP311", "abi3", "Win_AMD64")) == "cp311-abi3-win_amd64"
    assert a != ours.Tag("cp311", "abi3", "win32") and a != "cp311-abi3-win_amd64"


@pytest.mark.corpus
def test_corpus_names_read_as_packaging_reads_them() -> None:
    wheels = sorted(CORPUS.glob("*.whl"))
    if not wheels:
        pytest.skip("corpus not downloaded")
    for wheel in wheels:
        _same(wheel.name)


@pytest.mark.parametrize(
    "line", ["3x-none-any", "py3-none", "py3..py2-none-any", "py3-none-any-x", "py3--any"]
)
def test_malformed_wheel_tag_line_is_one_error_line(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = [
        ("foo/__init__.py", b""),
        ("foo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n"),
        ("foo-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {line}\n".encode()),
    ]
    members.append(("foo-1.0.dist-info/RECORD", record_for(members, "foo-1.0.dist-info/RECORD")))
    wheel = write_zip(tmp_path / "foo-1.0-py3-none-any.whl", members)
    assert main(["audit", str(wheel)]) == WheelError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "malformed Tag line" in err and "Traceback" not in err
