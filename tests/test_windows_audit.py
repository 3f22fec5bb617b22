"""Windows audit rules on zig-built wheels and on the corpus, against delvewheel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from conftest import corpus_wheel
from fixturelib.wheels import make_wheel
from fixturelib.windows import WindowsFixture, build_chain, build_windows_fixture

from mwheel.audit import WheelReport, audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.audit.windows_resolve import parse_windows_policy, windows_policy
from mwheel.cli import main
from mwheel.errors import PolicyError
from mwheel.policies import load_data

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "windows_expected.json").read_text())
SCHEMA = json.loads((Path(__file__).parent.parent / "mwheel" / "report-schema.json").read_text())


def codes(report: WheelReport) -> list[str]:
    return [f.code for f in report.findings]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> WindowsFixture:
    return build_windows_fixture(tmp_path_factory.mktemp("win64"))


def test_external_dll_not_found_without_lib_path(fixture: WindowsFixture) -> None:
    report = audit_wheel(fixture.wheel)
    assert not report.compliant and report.exit_code == 1
    assert report.external_libraries == {"priv_outer.dll": None}
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.code == "library-not-found" and finding.member == fixture.extension
    assert report.best_tag is None and report.repair_tag is None


def test_external_chain_found_on_lib_path(fixture: WindowsFixture) -> None:
    report = audit_wheel(fixture.wheel, AuditOptions(lib_paths=(fixture.lib_dir,)))
    assert not report.compliant
    assert report.external_libraries == {
        "priv_outer.dll": str(fixture.lib_dir / "priv_outer.dll"),
        "priv_inner.dll": str(fixture.lib_dir / "priv_inner.dll"),
    }
    external = {
        (f.member, dict(f.details)["library"])
        for f in report.findings
        if f.code == "windows-dll-external"
    }
    # The why: which binary imports it, the wheel's extension or the grafted DLL.
    assert external == {
        (fixture.extension, "priv_outer.dll"),
        (str(fixture.lib_dir / "priv_outer.dll"), "priv_inner.dll"),
    }
    assert report.repair_tag == "win_amd64" and report.best_tag is None
    # python3.dll, KERNEL32.dll and the api-ms-win-crt-* API sets need no bundling.
    assert not any("python3" in f.message or "KERNEL32" in f.message for f in report.findings)


def test_names_are_case_insensitive(fixture: WindowsFixture, tmp_path: Path) -> None:
    upper = tmp_path / "UPPER"
    upper.mkdir()
    for dll in fixture.lib_dir.iterdir():
        shutil.copyfile(dll, upper / dll.name.upper())
    report = audit_wheel(fixture.wheel, AuditOptions(lib_paths=(upper,)))
    assert report.external_libraries["priv_outer.dll"] == str(upper / "PRIV_OUTER.DLL")


def test_lib_path_dll_of_another_machine_is_not_used(
    fixture: WindowsFixture, tmp_path: Path
) -> None:
    wrong = tmp_path / "x86"
    wrong.mkdir()
    for name, path in build_chain("x86").items():
        shutil.copyfile(path, wrong / name)
    report = audit_wheel(fixture.wheel, AuditOptions(lib_paths=(wrong,)))
    assert report.external_libraries == {"priv_outer.dll": None}


def test_bundled_chain_is_compliant(tmp_path: Path) -> None:
    built = build_chain("x86_64")
    wheel = make_wheel(
        tmp_path,
        "winext",
        "1.0",
        "cp311-cp311-win_amd64",
        {
            "winext/__init__.py": b"",
            "winext/_ext.cp311-win_amd64.pyd": built["_ext.cp311-win_amd64.pyd"],
            "winext/priv_outer.dll": built["priv_outer.dll"],  # beside the extension
            "winext.libs/PRIV_INNER.DLL": built["priv_inner.dll"],  # in a .libs directory
        },
    )
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert report.best_tag == "win_amd64" and report.external_libraries == {}
    graph = report.verdicts["windows"].graph
    bundled = {(d.name, d.member) for d in graph.dependencies if d.kind == "bundled"}
    assert bundled == {
        ("priv_outer.dll", "winext/priv_outer.dll"),
        ("priv_inner.dll", "winext.libs/PRIV_INNER.DLL"),
    }


def test_x86_wheel(tmp_path: Path) -> None:
    fx = build_windows_fixture(tmp_path, "x86")
    report = audit_wheel(fx.wheel, AuditOptions(lib_paths=(fx.lib_dir,)))
    assert report.verdicts["windows"].arch == "x86"
    assert report.repair_tag == "win32"
    assert set(report.external_libraries) == {"priv_outer.dll", "priv_inner.dll"}


def test_machine_mismatch_with_tag(tmp_path: Path) -> None:
    built = build_chain("x86")
    wheel = make_wheel(
        tmp_path,
        "winext",
        "1.0",
        "cp311-cp311-win_amd64",
        {
            "winext/_ext.pyd": built["_ext.cp311-win32.pyd"],
            "winext/priv_outer.dll": built["priv_outer.dll"],
            "winext/priv_inner.dll": built["priv_inner.dll"],
        },
    )
    report = audit_wheel(wheel)
    mismatch = [f for f in report.findings if f.code == "architecture-mismatch"]
    assert {f.member for f in mismatch} == {
        "winext/_ext.pyd",
        "winext/priv_outer.dll",
        "winext/priv_inner.dll",
    }
    assert "x86" in mismatch[0].message and mismatch[0].tag == "win_amd64"
    assert not report.compliant and report.repair_tag is None


@pytest.mark.parametrize(
    ("tag", "allowed"), [("cp311-cp311-win_amd64", True), ("cp312-cp312-win_amd64", False)]
)
def test_python_dll_must_match_the_tag(tmp_path: Path, tag: str, allowed: bool) -> None:
    built = build_chain("x86_64", python_dll="python311")
    wheel = make_wheel(
        tmp_path,
        "winext",
        "1.0",
        tag,
        {
            "winext/_ext.pyd": built["_ext.cp311-win_amd64.pyd"],
            "winext/priv_outer.dll": built["priv_outer.dll"],
            "winext/priv_inner.dll": built["priv_inner.dll"],
        },
    )
    report = audit_wheel(wheel)
    wrong = [f for f in report.findings if f.code == "library-not-allowed"]
    assert report.compliant is allowed
    assert bool(wrong) is not allowed
    if wrong:
        assert "python311.dll" in wrong[0].message


def test_exclude_keeps_a_dll_external_on_purpose(fixture: WindowsFixture) -> None:
    report = audit_wheel(fixture.wheel, AuditOptions(exclude=("PRIV_*",)))
    assert report.compliant and not [f for f in report.findings if f.severity != "info"]


def test_json_report_matches_schema(
    fixture: WindowsFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["audit", "--format", "json", "--lib-path", str(fixture.lib_dir), str(fixture.wheel)]
    )
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 1
    [wheel] = doc["wheels"]
    assert {f["code"] for f in wheel["findings"]} == {"windows-dll-external"}
    assert all(f["library"] and f["file"] for f in wheel["findings"])


def test_policy_data_is_validated() -> None:
    raw = load_data("windows.json")
    policy = windows_policy()
    assert policy.is_system("KERNEL32.dll", "x86_64")
    assert policy.is_system("api-ms-win-crt-runtime-l1-1-0.dll", "arm64")
    assert policy.is_system("ucrtbase.dll", "x86") and policy.is_system("WINSPOOL.DRV", "x86")
    assert not policy.is_system("opengl32.dll", "arm64") and policy.is_system(
        "opengl32.dll", "x86_64"
    )
    assert policy.runtime_kind("VCRUNTIME140_1.dll", "x86_64") == "python"
    assert policy.runtime_kind("vcruntime140_1.dll", "x86") is None
    assert policy.runtime_kind("vcomp140.dll", "x86_64") == "vc_redist"
    assert policy.python_dlls(("cp311",), ("cp311",)) == frozenset({"python3.dll", "python311.dll"})
    assert policy.python_dlls(("py3",), ("none",)) is None
    broken = json.loads(json.dumps(raw))
    broken["system_dlls"]["all"].append("Kernel32.DLL")
    with pytest.raises(PolicyError, match="lower-case"):
        parse_windows_policy(broken)
    clash = json.loads(json.dumps(raw))
    clash["system_dlls"]["all"].append("msvcp140.dll")
    with pytest.raises(PolicyError, match="both system and runtime"):
        parse_windows_policy(clash)


# --- the corpus against `delvewheel show` ------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED["wheels"]))
def test_corpus_matches_delvewheel(corpus: Path, name: str) -> None:
    """Same DLLs found in the wheel and assumed present as delvewheel, nothing external.

    One deliberate difference: delvewheel would copy a VC++ redistributable DLL it finds
    (llvmlite's msvcp140.dll; not found here), mwheel assumes it present with an info
    finding, so the wheel is compliant.
    """
    expected = EXPECTED["wheels"][name]
    report = audit_wheel(corpus_wheel(corpus, name))
    assert report.compliant, [f.message for f in report.findings if f.severity != "info"]
    assert report.external_libraries == {}
    graph = report.verdicts["windows"].graph
    bundled = {d.name.lower() for d in graph.dependencies if d.kind == "bundled"}
    system = {d.name.lower() for d in graph.dependencies if d.kind == "system"}
    redist = set(windows_policy().vc_redist)
    assert bundled == set(expected["in_wheel"])
    assert set(expected["copied"]) <= redist
    assert system == set(expected["assumed_present"]) | set(expected["copied"])
    assumed = {
        dict(f.details)["library"].lower()
        for f in report.findings
        if f.code == "windows-runtime-assumed"
    }
    assert assumed == system & (redist | {"vcruntime140.dll", "vcruntime140_1.dll"})
    assert all(f.severity == "info" for f in report.findings if f.code == "windows-runtime-assumed")


@pytest.mark.corpus
def test_scikit_learn_vcomp_is_bundled_not_assumed(corpus: Path) -> None:
    report = audit_wheel(corpus_wheel(corpus, "scikit_learn-*-win_amd64.whl"))
    graph = report.verdicts["windows"].graph
    members = {d.member for d in graph.dependencies if d.name.lower() == "vcomp140.dll"}
    assert members == {"sklearn/.libs/vcomp140.dll"}
