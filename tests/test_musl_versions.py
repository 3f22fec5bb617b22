"""musllinux tags judged on the musl functions a binary really imports.

musl has no symbol versioning, so the only trace a newer musl leaves in a binary is a function
it added (reallocarray, musl 1.2.2) or, on 32-bit architectures, the time64 names its headers
redirect to since 1.2.0 (__time64, __clock_gettime64). Fixtures are compiled here with zig,
whose bundled musl is a 1.2.x: its headers are what a musllinux_1_2 build really sees.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fixturelib.build import compile_c
from fixturelib.linux import build_linux_fixture
from fixturelib.wheels import make_wheel

from mwheel.audit import WheelReport, audit_wheel
from mwheel.binary import read_binary, sniff
from mwheel.cli import main
from mwheel.errors import PolicyError
from mwheel.policies import LinuxPolicy, linux_policies, parse_policy_file
from mwheel.repair import repair_wheel
from mwheel.tags import PlatformTag

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "linux"
SCHEMA = json.loads((ROOT / "mwheel" / "report-schema.json").read_text())
EXT_SUFFIX = ".cpython-311-x86_64-linux-musl.so"


def _reallocarray_wheel(dest: Path, tag: str, *, weak: bool = False) -> Path:
    ext = compile_c(
        [FIXTURES / "musl12_reallocarray.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-musl",
        extra_args=["-DWEAK_REALLOCARRAY"] if weak else [],
    )
    members: dict[str, bytes | Path] = {
        "mwfix_musl12/__init__.py": b"from ._ext import *  # noqa: F403\n",
        f"mwfix_musl12/_ext{EXT_SUFFIX}": ext,
    }
    return make_wheel(dest, "mwfix_musl12", "1.0", f"cp311-cp311-{tag}", members)


def _time64_wheel(dest: Path, tag: str) -> Path:
    lib = compile_c(
        [FIXTURES / "musl12_time64.c"],
        "libclock.so",
        compiler="zig",
        target="x86-linux-musl",
        include_python=False,
    )
    members: dict[str, bytes | Path] = {"mwfix_clock/libclock.so": lib}
    return make_wheel(dest, "mwfix_clock", "1.0", f"py3-none-{tag}", members)


def _too_new(report: WheelReport, tag: str) -> dict[str, str]:
    """symbol -> message of the symbol-too-new errors about ``tag``."""
    return {
        dict(f.details)["symbol"]: f.message
        for f in report.findings
        if f.code == "symbol-too-new" and f.tag == tag
    }


def test_reallocarray_needs_musllinux_1_2(tmp_path: Path) -> None:
    report = audit_wheel(_reallocarray_wheel(tmp_path, "musllinux_1_2_x86_64"))
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_2_x86_64"
    # The info finding says why not musllinux_1_1, and names the function and its release.
    why = [f for f in report.findings if f.code == "best-tag-constraint"]
    assert len(why) == 1 and why[0].severity == "info"
    assert why[0].tag == "musllinux_1_1_x86_64"
    assert dict(why[0].details) == {
        "symbol": "reallocarray",
        "introduced_in": "musl 1.2.2",
        "introduced_by": "musllinux_1_2",
    }
    assert "uses reallocarray, added in musl 1.2.2 (musllinux_1_2)" in why[0].message
    assert not [f for f in report.findings if f.severity == "error"]


def test_reallocarray_wheel_claiming_musllinux_1_1_is_not_compliant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = _reallocarray_wheel(tmp_path, "musllinux_1_1_x86_64")
    report = audit_wheel(wheel)
    assert not report.compliant
    assert report.best_tag == "musllinux_1_2_x86_64"
    assert _too_new(report, "musllinux_1_1_x86_64") == {
        "reallocarray": "uses reallocarray, added in musl 1.2.2 (musllinux_1_2); "
        "musllinux_1_1 lacks it"
    }
    # The CLI's JSON carries the finding, within the committed schema.
    assert main(["audit", "--format", "json", str(wheel)]) == 1
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    found = [f for f in doc["wheels"][0]["findings"] if f["code"] == "symbol-too-new"]
    assert found and found[0]["symbol"] == "reallocarray" and found[0]["severity"] == "error"


def test_weak_reallocarray_keeps_musllinux_1_1(tmp_path: Path) -> None:
    """A weak import is optional (the module falls back to realloc), so it does not count."""
    report = audit_wheel(_reallocarray_wheel(tmp_path, "musllinux_1_1_x86_64", weak=True))
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_1_x86_64"
    assert not [f for f in report.findings if "reallocarray" in f.message]


def test_repair_retags_a_musl_1_2_wheel_musllinux_1_2(tmp_path: Path) -> None:
    """The wrong retag this rule exists for: a linux_ wheel built on musl 1.2."""
    wheel = _reallocarray_wheel(tmp_path / "in", "linux_x86_64")
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    assert result.output.name.endswith("-musllinux_1_2_x86_64.whl"), result.output.name
    assert result.report.compliant and result.report.best_tag == "musllinux_1_2_x86_64"


def test_time64_names_need_musllinux_1_2_on_i686(tmp_path: Path) -> None:
    report = audit_wheel(_time64_wheel(tmp_path, "musllinux_1_2_i686"))
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_2_i686"
    older = audit_wheel(_time64_wheel(tmp_path / "old", "musllinux_1_1_i686"))
    assert not older.compliant
    messages = _too_new(older, "musllinux_1_1_i686")
    assert set(messages) == {"__clock_gettime64", "__time64"}
    assert "added in musl 1.2.0 (musllinux_1_2)" in messages["__time64"]


def test_clean_musl_fixture_stays_musllinux_1_1(tmp_path: Path) -> None:
    report = audit_wheel(build_linux_fixture("musl", tmp_path).wheel)
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_1_x86_64"


# --- the policy data and its loader ----------------------------------------------------


def test_loaded_policies_forbid_newer_symbols_only() -> None:
    musl = linux_policies()["musllinux"]
    old, new = musl
    assert (old.name, new.name) == ("musllinux_1_1", "musllinux_1_2")
    assert not old.introduced_symbols and not new.forbidden_newer
    # loongarch64 has no musllinux_1_1 (its musl port came with 1.2.5).
    for arch in new.architectures & old.architectures:
        assert old.forbidden_newer[arch].keys() == new.introduced_symbols[arch]
        assert {"reallocarray", "_Fork", "qsort_r", "statx"} <= new.introduced_symbols[arch]
    assert old.forbidden_newer["x86_64"]["statx"].release == "1.2.5"
    # time64 redirections exist on the 32-bit architectures only.
    assert "__time64" in new.introduced_symbols["i686"]
    assert "__time64" in new.introduced_symbols["armv7l"]
    assert "__time64" not in new.introduced_symbols["x86_64"]
    assert len(new.introduced_symbols["i686"] - new.introduced_symbols["x86_64"]) == 63
    # glibc dates symbols with version nodes instead.
    assert all(
        not p.introduced_symbols and not p.forbidden_newer for p in linux_policies()["manylinux"]
    )


def _musl_doc() -> dict[str, Any]:
    text = (ROOT / "mwheel" / "policies" / "musllinux.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def _parse(doc: dict[str, Any]) -> tuple[LinuxPolicy, ...]:
    return parse_policy_file(doc, "musllinux.json")


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda p: p.update(introduced_symbols=[]), "introduced_symbols must be an object"),
        (lambda p: p["introduced_symbols"].update(sparc=[]), "unlisted sparc"),
        (lambda p: p["introduced_symbols"]["*"].update({"1.3.0": ["x"]}), "not a 1.2 release"),
        (lambda p: p["introduced_symbols"]["*"].update({"1.2.9": [1]}), "list of strings"),
        (
            lambda p: p["introduced_symbols"]["*"].update({"1.2.9": ["statx"]}),
            "statx introduced by both",
        ),
        (lambda p: p.pop("introduced_symbols"), "missing keys ['introduced_symbols']"),
    ],
)
def test_loader_rejects_bad_introduced_symbols(edit: Any, error: str) -> None:
    doc = _musl_doc()
    edit(doc["policies"][1])
    with pytest.raises(PolicyError, match=error.replace("[", r"\[").replace("]", r"\]")):
        _parse(doc)


def test_loader_rejects_a_symbol_introduced_twice_in_a_family() -> None:
    doc = _musl_doc()
    doc["policies"][0]["introduced_symbols"] = {"x86_64": {"1.1.20": ["reallocarray"]}}
    with pytest.raises(PolicyError, match="reallocarray on x86_64 is already introduced by"):
        _parse(doc)


def test_forbidden_newer_accumulates_over_every_newer_policy() -> None:
    """With three policies, the oldest is barred from what either newer one introduced."""
    doc = _musl_doc()
    third = copy.deepcopy(doc["policies"][1])
    third.update(name="musllinux_1_3", libc_version="1.3")
    third["introduced_symbols"] = {"*": {"1.3.0": ["posix_getdents"]}}
    doc["policies"].append(third)
    p11, p12, p13 = _parse(doc)
    assert {"reallocarray", "posix_getdents"} <= p11.forbidden_newer["aarch64"].keys()
    assert p12.forbidden_newer["aarch64"].keys() == {"posix_getdents"}
    assert p11.forbidden_newer["aarch64"]["posix_getdents"].policy == "musllinux_1_3"
    assert not p13.forbidden_newer


def test_policy_files_regenerate_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_policies", ROOT / "tools" / "make_policies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT_DIR", tmp_path)
    module.main()
    for name in ("manylinux.json", "musllinux.json"):
        committed = (ROOT / "mwheel" / "policies" / name).read_bytes()
        assert (tmp_path / name).read_bytes() == committed, name


# --- real PyPI wheels ---------------------------------------------------------------------


def _symbol_floor(wheel: Path) -> LinuxPolicy:
    """The oldest musllinux policy whose libc has every function the wheel's ELF files import."""
    policies = linux_policies()["musllinux"]
    floor = 0
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if sniff(data[:64]) != "elf":
                continue
            binary = read_binary(member, data)
            strong = {s.name for s in binary.imported if not s.weak}
            arch = binary.archs[0]
            while strong & policies[floor].forbidden_newer.get(arch, {}).keys():
                floor += 1
    return policies[floor]


@pytest.mark.corpus
def test_corpus_musllinux_wheels(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = sorted(corpus.glob("*musllinux*.whl"))
    if not wheels:
        pytest.skip("no musllinux wheel in the corpus")
    verdicts: dict[str, str | None] = {}
    for wheel in wheels:
        report = audit_wheel(wheel)
        verdicts[wheel.name] = report.best_tag
        # Real, working wheels: each stays compliant with the tag it claims.
        assert report.compliant, (wheel.name, report.findings)
        assert report.best_tag is not None and report.best_tag.startswith("musllinux_1_")
        # Never better than what its symbols allow.
        floor = _symbol_floor(wheel)
        best = PlatformTag.parse(report.best_tag)
        assert best.family == "musllinux" and best.version is not None
        assert best.version >= floor.version, (wheel.name, floor.name)
    with capsys.disabled():
        print("\nmusllinux corpus best tags:", json.dumps(verdicts, indent=1))


def test_function_defined_by_a_bundled_library_is_not_musls(tmp_path: Path) -> None:
    """reallocarray from a library the wheel bundles says nothing about the musl version."""
    lib = compile_c(
        [FIXTURES / "musl_own_reallocarray.c"],
        "libmwra.so",
        compiler="zig",
        target="x86_64-linux-musl",
        include_python=False,
        soname="libmwra.so",
    )
    ext = compile_c(
        [FIXTURES / "musl12_reallocarray.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-musl",
        libs=["mwra"],
        lib_dirs=[lib.parent],
        rpath=["$ORIGIN"],
    )
    wheel = make_wheel(
        tmp_path,
        "mwfix_musl12",
        "1.0",
        "cp311-cp311-musllinux_1_1_x86_64",
        {
            "mwfix_musl12/__init__.py": b"from ._ext import *  # noqa: F403\n",
            f"mwfix_musl12/_ext{EXT_SUFFIX}": ext,
            "mwfix_musl12/libmwra.so": lib,
        },
    )
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert report.best_tag == "musllinux_1_1_x86_64"
    assert not [f for f in report.findings if f.code == "symbol-too-new"]


def test_musl_export_data_agrees_with_the_introduced_symbols() -> None:
    """Every function a musl 1.2.x release introduced is exported by the newest musl (the
    export list of policies/musl_exports.json), and no glibc-only name is a musl export."""
    from mwheel.audit.linux_libc import glibc_only, musl_exports

    newest = linux_policies()["musllinux"][-1]
    for arch in newest.architectures:
        exports = musl_exports(arch)
        assert exports, arch
        assert newest.introduced_symbols.get(arch, frozenset()) <= exports, arch
        assert not exports & glibc_only(arch), arch
    assert {"__printf_chk", "__cxa_thread_atexit_impl"} <= glibc_only("x86_64")
    # musl's loader binds the LFS64 names (fopen64) since 1.2.4; older musl exported them.
    assert "fopen64" not in glibc_only("x86_64")
