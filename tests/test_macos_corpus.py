"""Real macOS wheels from PyPI (the corpus cache): audited compliant with nothing external,
each member's install names resolved as delocate resolves them, and repaired (their
build-tree LC_RPATHs dropped) into wheels whose new signatures verify.

``tests/data/macos_expected.json`` holds delocate's listing and the exact command that
produced it (delocate on Linux, through an ``otool`` shim over llvm-otool).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import corpus_wheel
from test_macos_repair import slices, verify_signature

from mwheel.audit import audit_wheel
from mwheel.binary import sniff
from mwheel.binary.macho import read_macho
from mwheel.repair import repair_wheel

pytestmark = pytest.mark.corpus

EXPECTED = json.loads((Path(__file__).parent / "data" / "macos_expected.json").read_text())
WHEELS = sorted(EXPECTED["wheels"])


@pytest.mark.parametrize("name", WHEELS)
def test_audit_matches_delocate(corpus: Path, name: str) -> None:
    report = audit_wheel(corpus_wheel(corpus, name))
    assert report.compliant, report.findings
    assert not report.external_libraries
    assert not [f for f in report.findings if f.severity != "info"]
    assert report.best_tag is not None and report.best_tag in report.claimed_tags
    graph = report.verdicts["macos"].graph
    ours: dict[str, dict[str, str | None]] = {}
    for d in graph.dependencies:
        ours.setdefault(d.needed_by, {})[d.name] = d.member if d.kind == "bundled" else d.name
        assert d.kind in ("bundled", "system") and d.reachable
    assert ours == EXPECTED["wheels"][name]


def test_verifier_accepts_apples_own_signatures(corpus: Path) -> None:
    """The test's signature checker passes what Apple's ld wrote (psutil, bcrypt arm64), so
    its verdict on mwheel's signatures means something."""
    checked = 0
    for name in (
        "psutil-5.9.8-cp38-abi3-macosx_11_0_arm64.whl",
        "bcrypt-4.1.3-cp39-abi3-macosx_10_12_universal2.whl",
    ):
        with zipfile.ZipFile(corpus_wheel(corpus, name)) as zf:
            for member in zf.namelist():
                data = zf.read(member)
                if sniff(data[:4096]) != "macho":
                    continue
                b = read_macho(member, data)
                assert b.macho is not None
                for blob, s in zip(slices(data), b.macho.slices, strict=True):
                    if s.signed:
                        assert verify_signature(blob)["flags"] == 0x20002  # linker-signed
                        checked += 1
    assert checked == 3


def test_repair_drops_build_tree_rpaths(corpus: Path, tmp_path: Path) -> None:
    """shapely's libgeos_c carries LC_RPATH /Users/runner/work/...: a repair drops it and
    re-signs the library (the codesign signature delocate left is replaced by ld's kind)."""
    wheel = corpus_wheel(corpus, "shapely-2.0.6-cp311-cp311-macosx_11_0_arm64.whl")
    result = repair_wheel(wheel, tmp_path)
    assert result.output is not None and result.report.compliant
    assert result.plan.platform_tags == ("macosx_11_0_arm64",) and not result.plan.grafts
    with zipfile.ZipFile(result.output) as zf:
        for edit in result.plan.edits:
            data = zf.read(edit.member)
            b = read_macho(edit.member, data)
            assert b.macho is not None
            assert not any(r.startswith("/") for s in b.macho.slices for r in s.rpaths)
            for blob in slices(data):
                verify_signature(blob)
