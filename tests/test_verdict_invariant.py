"""A wheel judged not compliant always comes with at least one error finding saying why.

Checked on every Linux fixture recipe, the edge fixtures, the pinned real wheels and the
shared corpus. ``verdict.explained`` adds a generic ``tag-not-honoured`` error when a rule
forgets to give its reason; on these wheels every reason must be a specific one, so that
net must never be what explains a verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import linux_edge as edge
from fixturelib.linux import LinuxFixture, build_linux_fixture
from fixturelib.pypi import read_pins

from mwheel.audit import WheelReport, audit_wheel


def _check(report: WheelReport) -> None:
    assert report.error is None, report.error
    errors = [f for f in report.findings if f.severity == "error"]
    if not report.compliant:
        assert errors, f"{report.wheel}: not compliant without an error finding"
    assert not [f for f in errors if f.code == "tag-not-honoured"], report.wheel
    unhonoured = [t for v in report.verdicts.values() for t, ok in v.honoured.items() if not ok]
    for tag in unhonoured:
        assert any(f.tag in (tag, None) for f in errors), f"{report.wheel}: {tag} unexplained"


@pytest.mark.parametrize("name", LinuxFixture.names())
def test_linux_recipes(name: str, tmp_path: Path) -> None:
    _check(audit_wheel(build_linux_fixture(name, tmp_path).wheel))


def test_edge_fixtures(tmp_path: Path) -> None:
    both = "py3-none-manylinux_2_17_x86_64.musllinux_1_1_x86_64"
    wheels = [
        edge.no_needed_musl_ext(tmp_path / "a", "cp311-cp311-manylinux_2_17_x86_64"),
        edge.relr_ext(tmp_path / "b", "cp311-cp311-musllinux_1_1_x86_64", "musl"),
        edge.relr_ext(tmp_path / "c", "cp311-cp311-manylinux_2_17_x86_64", "glibc"),
        edge.glibc_only_musl_ext(tmp_path / "d", "cp311-cp311-musllinux_1_2_x86_64"),
        edge.static_executable(tmp_path / "e", both, "glibc"),
        edge.static_executable(tmp_path / "f", both, "musl"),
        edge.cross_ext(tmp_path / "g", "cp311-cp311-manylinux_2_17_armv7l", "armv5"),
        edge.cross_ext(tmp_path / "h", "cp311-cp311-musllinux_1_1_armv7l", "armv7-softfloat"),
        edge.cross_ext(tmp_path / "i", "cp311-cp311-manylinux_2_17_s390x", "s390x"),
        edge.zlib_internal_ext(tmp_path / "j", "cp311-cp311-manylinux_2_17_x86_64"),
    ]
    for wheel in wheels:
        _check(audit_wheel(wheel))


def test_pinned_real_wheels() -> None:
    from fixturelib.pypi import download

    checked = 0
    for pin in read_pins("linux-real"):
        path = download(pin)
        if path is not None:
            _check(audit_wheel(path))
            checked += 1
    if not checked:
        pytest.skip("no pinned wheel could be downloaded")


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus(corpus: Path) -> None:
    for wheel in sorted(corpus.glob("*.whl")):
        _check(audit_wheel(wheel))
