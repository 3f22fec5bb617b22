"""Linux audit on wheels built from C sources at test time, and on real PyPI wheels."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import corpus_wheel
from fixturelib.linux import build_linux_fixture

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.cli import main
from mwheel.repair import repair_wheel

SCHEMA = json.loads((Path(__file__).parent.parent / "mwheel" / "report-schema.json").read_text())
EXPECTED = json.loads((Path(__file__).parent / "data" / "auditwheel_expected.json").read_text())


def codes(report: object) -> set[str]:
    return {f.code for f in report.findings}  # type: ignore[attr-defined]


def test_clean_extension_is_manylinux2014(tmp_path: Path) -> None:
    fx = build_linux_fixture("clean", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.compliant
    assert report.best_tag == "manylinux_2_5_x86_64"
    assert report.external_libraries == {}
    assert not [f for f in report.findings if f.severity == "error"]


def test_newer_glibc_than_claimed_names_the_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fx = build_linux_fixture("newglibc", tmp_path)
    report = audit_wheel(fx.wheel)
    assert not report.compliant
    assert report.best_tag == "manylinux_2_36_x86_64"
    bad = [
        f
        for f in report.findings
        if f.code == "symbol-version-too-new" and f.tag == "manylinux_2_17_x86_64"
    ]
    assert bad, report.findings
    assert "arc4random_uniform@GLIBC_2.36" in bad[0].message
    assert bad[0].member is not None and bad[0].member.endswith(".so")
    assert main(["audit", str(fx.wheel)]) == 1
    out = capsys.readouterr().out
    assert "arc4random_uniform@GLIBC_2.36" in out and "NOT COMPLIANT" in out


def test_private_library_through_runpath_is_external(tmp_path: Path) -> None:
    fx = build_linux_fixture("runpath", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.best_tag == "linux_x86_64"
    assert report.external_libraries == {"libmwprivate.so": str(fx.lib_dirs[0] / "libmwprivate.so")}
    assert report.repair_tag == "manylinux_2_5_x86_64"
    # linux_x86_64 is an honest claim: a warning, exit 0
    assert report.compliant


def test_missing_library_and_lib_path(tmp_path: Path) -> None:
    fx = build_linux_fixture("libpath", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.external_libraries == {"libmwpath.so": None}
    assert "library-not-found" in codes(report)
    found = audit_wheel(fx.wheel, AuditOptions(lib_paths=(fx.lib_dirs[0],)))
    assert found.external_libraries == {"libmwpath.so": str(fx.lib_dirs[0] / "libmwpath.so")}


def test_cxx_extension_needs_only_allowed_libraries(tmp_path: Path) -> None:
    fx = build_linux_fixture("cxx", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.external_libraries == {}
    assert report.best_tag is not None and report.best_tag.startswith("manylinux_2_")
    reasons = [f for f in report.findings if f.code == "best-tag-constraint"]
    assert reasons and all(f.severity == "info" for f in reasons)


def test_musl_wheel_judged_on_its_own_libraries(tmp_path: Path) -> None:
    fx = build_linux_fixture("musl", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_1_x86_64"


def test_aarch64_wheel_on_x86_64_host(tmp_path: Path) -> None:
    fx = build_linux_fixture("aarch64", tmp_path)
    report = audit_wheel(fx.wheel)
    assert report.compliant, report.findings
    assert report.best_tag == "manylinux_2_17_aarch64"


def test_binary_in_purelib_and_platform_wheel_without_binary(tmp_path: Path) -> None:
    purelib = audit_wheel(build_linux_fixture("purelib_binary", tmp_path / "a").wheel)
    # A py3-none-any wheel with a binary: the tag is wrong, and the binary is in purelib.
    assert "binary-in-purelib" in codes(purelib) and not purelib.compliant
    assert purelib.best_tag == "manylinux_2_5_x86_64"
    nobin = audit_wheel(build_linux_fixture("nobinary", tmp_path / "b").wheel)
    # pip installs a platform wheel without binaries and nothing in it can fail to load:
    # accepted with a warning (issue 14), best tag any; repair writes nothing.
    assert "no-binary" in codes(nobin) and nobin.compliant
    assert nobin.best_tag == "any"
    assert [f.severity for f in nobin.findings if f.code == "no-binary"] == ["warning"]
    result = repair_wheel(build_linux_fixture("nobinary", tmp_path / "c").wheel, tmp_path / "o")
    assert result.output is None and "nothing to repair" in result.plan.notes[0]


def test_json_output_matches_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = [build_linux_fixture(n, tmp_path / n).wheel for n in ("clean", "newglibc", "runpath")]
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    code = main(["audit", "--format", "json", *map(str, wheels), str(bad)])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 3  # an invalid wheel outranks a non-compliant one
    by_name = {w["wheel"]: w for w in doc["wheels"]}
    assert by_name[wheels[0].name]["compliant"] is True
    assert by_name[wheels[1].name]["compliant"] is False
    assert by_name[bad.name]["error"]["exit_code"] == 3
    assert any(
        f["code"] == "symbol-version-too-new" and f.get("version") == "GLIBC_2.36"
        for f in by_name[wheels[1].name]["findings"]
    )


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED["wheels"]))
def test_corpus_matches_auditwheel(corpus: Path, name: str) -> None:
    wheel = corpus_wheel(corpus, name)
    expected = EXPECTED["wheels"][name]
    report = audit_wheel(wheel, AuditOptions(host_libs=False))
    assert report.error is None
    assert report.best_tag == expected["best_tag"]
    assert sorted(report.external_libraries) == expected["external_libraries"]
    assert report.compliant


@pytest.mark.corpus
@pytest.mark.parametrize(
    "pattern",
    ["*musllinux_1_2_x86_64.whl", "*musllinux_1_1_x86_64.whl", "*musllinux_1_2_aarch64.whl"],
)
def test_corpus_musllinux_wheels_compliant(corpus: Path, pattern: str) -> None:
    for wheel in sorted(corpus.glob(pattern)):
        report = audit_wheel(wheel)
        assert report.compliant, (wheel.name, report.findings)
        assert report.best_tag is not None and report.best_tag.startswith("musllinux_1_")


def test_purelib_data_dir_is_an_error_root_is_purelib_a_warning(tmp_path: Path) -> None:
    from fixturelib.wheels import make_wheel, wheel_members

    fx = build_linux_fixture("clean", tmp_path / "fx")
    so = next(d for n, d in wheel_members(fx.wheel).items() if n.endswith(".so"))
    tag = "cp311-cp311-manylinux_2_17_x86_64"
    data_purelib = make_wheel(
        tmp_path / "a", "mwfix_p", "1.0", tag, {"mwfix_p-1.0.data/purelib/mwfix_p/_ext.so": so}
    )
    report = audit_wheel(data_purelib)
    bad = [f for f in report.findings if f.code == "binary-in-purelib"]
    assert bad and bad[0].severity == "error" and not report.compliant
    # Root-Is-Purelib: true with binaries at the root installs fine with pip (xgboost 2.1.0
    # on PyPI does it): flagged, not fatal.
    root = make_wheel(
        tmp_path / "b", "mwfix_p", "1.0", tag, {"mwfix_p/_ext.so": so}, root_is_purelib=True
    )
    report = audit_wheel(root)
    warn = [f for f in report.findings if f.code == "binary-in-purelib"]
    assert warn and warn[0].severity == "warning" and report.compliant


def test_binaries_of_another_architecture_than_the_tag(tmp_path: Path) -> None:
    from fixturelib.wheels import make_wheel, wheel_members

    fx = build_linux_fixture("aarch64", tmp_path / "fx")
    members = {n: d for n, d in wheel_members(fx.wheel).items() if ".dist-info/" not in n}
    wheel = make_wheel(
        tmp_path, "mwfix_aarch64", "1.0", "cp311-cp311-manylinux_2_28_x86_64", members
    )
    report = audit_wheel(wheel)
    assert not report.compliant
    assert report.best_tag == "manylinux_2_17_aarch64"
    bad = [f for f in report.findings if f.code == "architecture-mismatch"]
    assert bad and "aarch64" in bad[0].message and "x86_64" in bad[0].message


def test_show_is_an_alias_of_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """auditwheel and delvewheel users type `show`."""
    fx = build_linux_fixture("newglibc", tmp_path)
    assert main(["show", "--format", "json", str(fx.wheel)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["wheels"][0]["best_tag"] == "manylinux_2_36_x86_64"


def test_section_headers_stripped_still_reveal_symbol_versions(tmp_path: Path) -> None:
    """The loader needs no section headers (sstrip removes them); the verdict must not either."""
    import struct

    from fixturelib.wheels import make_wheel, wheel_members

    fx = build_linux_fixture("newglibc", tmp_path / "fx")
    members = {n: d for n, d in wheel_members(fx.wheel).items() if ".dist-info/" not in n}
    name = next(n for n in members if n.endswith(".so"))
    elf = bytearray(members[name])
    struct.pack_into("<Q", elf, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", elf, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    members[name] = bytes(elf)
    wheel = make_wheel(
        tmp_path, "mwfix_newglibc", "1.0", "cp311-cp311-manylinux_2_17_x86_64", members
    )
    report = audit_wheel(wheel)
    assert report.best_tag == "manylinux_2_36_x86_64"
    assert not report.compliant
