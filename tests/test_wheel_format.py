"""What pip accepts in WHEEL and RECORD, mwheel accepts (issue 14), with real wheels.

Compressed ``Tag:`` lines (maturin <= 1.7), members RECORD omits (a warning; a repair
lists them), and RECORD signatures (kept out of the copy, with a note, since the repair
rewrites the RECORD they sign).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture
from fixturelib.pypi import pinned_wheel
from hostile import Members, record_for, variant, write_zip

from mwheel.audit import audit_wheel
from mwheel.cli import main
from mwheel.repair import repair_wheel
from mwheel.wheel.record import urlsafe_digest

MATURIN_17 = ["orjson==3.9.10", "rpds-py==0.10.6", "pydantic-core==2.14.5"]


def _wheel_text(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
        return zf.read(name).decode()


def _record_rows(path: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(zf.read(name).decode())))
    return {r[0]: r for r in rows if r}


def _assert_record_complete(path: Path) -> None:
    """Every member is listed with its true hash and size (RECORD itself without)."""
    rows = _record_rows(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            row = rows.pop(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                continue
            data = zf.read(info)
            assert row[1] == "sha256=" + urlsafe_digest(hashlib.sha256(data).digest())
            assert row[2] == str(len(data))
    assert not rows


@pytest.mark.parametrize("requirement", MATURIN_17)
def test_maturin_compressed_tag_line_is_accepted(requirement: str, tmp_path: Path) -> None:
    wheel = pinned_wheel("wheel-format", requirement)
    tag_lines = [ln for ln in _wheel_text(wheel).splitlines() if ln.startswith("Tag:")]
    assert len(tag_lines) == 1 and "." in tag_lines[0].split("-")[-1]  # what the pin is for
    report = audit_wheel(wheel)
    assert report.error is None, report.error
    assert report.compliant, [f.message for f in report.findings]
    assert main(["repair", "-w", str(tmp_path), str(wheel)]) == 0
    (out,) = tmp_path.glob("*.whl")
    _assert_record_complete(out)
    # The output's Tag lines are expanded, one per tag.
    lines = [ln for ln in _wheel_text(out).splitlines() if ln.startswith("Tag:")]
    assert lines and all("." not in ln.split("-")[-1] for ln in lines)
    assert audit_wheel(out).compliant


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_fixture("clean", tmp_path_factory.mktemp("good")).wheel


def _retag(members: Members, lines: list[str]) -> Members:
    out = []
    for name, data in members:
        if name.endswith(".dist-info/WHEEL"):
            kept = [ln for ln in data.decode().splitlines() if ln and not ln.startswith("Tag:")]
            data = ("\n".join(kept + [f"Tag: {ln}" for ln in lines]) + "\n\n").encode()
        out.append((name, data))
    return out


@pytest.mark.parametrize(
    "lines",
    [
        ["cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"],
        ["cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64"],
        ["cp311-cp311-manylinux2014_x86_64", "cp311-cp311-manylinux_2_17_x86_64"],
        [
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64",
        ],
    ],
    ids=["compressed", "compressed-reordered", "expanded-reordered", "mixed-overlapping"],
)
def test_tag_lines_compared_as_sets(lines: list[str], good: Path, tmp_path: Path) -> None:
    wheel = variant(good, tmp_path / good.name, lambda m: _retag(m, lines))
    report = audit_wheel(wheel)
    assert report.error is None, report.error
    assert report.compliant


def test_tag_line_set_that_differs_is_a_warning(good: Path, tmp_path: Path) -> None:
    """pip installs by the file name and never reads Tag lines: warn, and repair rewrites them."""
    lines = ["cp311-cp311-manylinux_2_17_x86_64.manylinux2010_x86_64"]
    wheel = variant(good, tmp_path / good.name, lambda m: _retag(m, lines))
    report = audit_wheel(wheel)
    assert report.error is None, report.error
    mismatch = [f for f in report.findings if f.code == "wheel-tag-mismatch"]
    assert len(mismatch) == 1 and mismatch[0].severity == "warning"
    assert "manylinux2010_x86_64" in mismatch[0].message
    assert report.compliant
    out = repair_wheel(wheel, tmp_path / "out")
    assert out.output is not None
    repaired = audit_wheel(out.output)
    assert repaired.error is None
    assert not [f for f in repaired.findings if f.code == "wheel-tag-mismatch"]


def _unlisted(members: Members) -> Members:
    """An extra module that RECORD does not list (pip installs it anyway)."""
    record = next(n for n, _ in members if n.endswith("/RECORD"))
    listed = [(n, d) for n, d in members if n != record]
    extra = ("mwfix_clean/extra.py", b"print('not in RECORD')\n")
    return [*listed, extra, (record, record_for(listed, record))]


def test_member_not_in_record_is_a_warning_and_repair_lists_it(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = variant(good, tmp_path / good.name, _unlisted, rerecord=False)
    report = audit_wheel(wheel)
    assert report.error is None, report.error
    found = [f for f in report.findings if f.code == "member-not-in-record"]
    assert [(f.member, f.severity) for f in found] == [("mwfix_clean/extra.py", "warning")]
    assert main(["audit", "--format", "json", str(wheel)]) == 0
    assert "member-not-in-record" in capsys.readouterr().out
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    assert any("extra.py" in n and "new one" in n for n in result.plan.notes)
    assert "mwfix_clean/extra.py" in _record_rows(result.output)
    _assert_record_complete(result.output)
    assert not [f for f in result.report.findings if f.code == "member-not-in-record"]


def _signed(members: Members) -> Members:
    dist = next(n for n, _ in members if n.endswith("/RECORD")).rsplit("/", 1)[0]
    return [
        *members,
        (f"{dist}/RECORD.jws", b'{"signature": "x"}'),
        (f"{dist}/RECORD.p7s", b"\x30\x82"),
    ]


def test_signatures_are_dropped_with_a_note(good: Path, tmp_path: Path) -> None:
    wheel = variant(good, tmp_path / good.name, _signed, rerecord=False)
    before = wheel.read_bytes()
    report = audit_wheel(wheel)
    assert report.error is None, report.error
    assert not [f for f in report.findings if f.code == "member-not-in-record"]
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        assert not [n for n in zf.namelist() if "RECORD." in n]
    dropped = [n for n in result.plan.notes if "dropped" in n]
    assert len(dropped) == 2 and all("RECORD" in n for n in dropped)
    _assert_record_complete(result.output)
    assert wheel.read_bytes() == before


def test_signatures_via_cli_give_no_traceback(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = variant(good, tmp_path / good.name, _signed, rerecord=False)
    assert main(["repair", "-w", str(tmp_path / "out"), str(wheel)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "RECORD.jws: dropped" in captured.out + captured.err


def test_write_zip_helper_is_used(tmp_path: Path) -> None:
    # hostile.write_zip keeps odd names byte for byte (used by the tests above).
    path = write_zip(tmp_path / "x.zip", [("a/./b", b"1")])
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["a/./b"]
