"""Windows repair: the planner, the PE patcher and the whole repair on zig-built wheels."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pefile
import pytest
from conftest import corpus_wheel
from fixturelib.wheels import wheel_members
from fixturelib.windows import WindowsFixture, build_chain, build_windows_fixture

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary.pe import parse_headers, read_pe
from mwheel.cli import main
from mwheel.errors import MissingLibraryError, RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.model import FileEdit, PlatformPlan, RepairOptions
from mwheel.repair.pe_patch import SECTION_NAME, PePatcher, rename_dlls
from mwheel.repair.windows import WindowsPlanner, mangled_name

EXT = "_ext.cp311-win_amd64.pyd"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> WindowsFixture:
    return build_windows_fixture(tmp_path_factory.mktemp("win64"))


def _plan(fx: WindowsFixture, options: RepairOptions | None = None) -> PlatformPlan:
    report = audit_wheel(fx.wheel, AuditOptions(lib_paths=(fx.lib_dir,)))
    assert report.context is not None
    return WindowsPlanner().plan(
        report.context, report.verdicts["windows"], options or RepairOptions()
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the planner (pure) --------------------------------------------------------------------


def test_plan_grafts_mangles_and_patches_init(fixture: WindowsFixture) -> None:
    plan = _plan(fixture)
    outer = mangled_name("priv_outer.dll", _sha(fixture.lib_dir / "priv_outer.dll"))
    inner = mangled_name("priv_inner.dll", _sha(fixture.lib_dir / "priv_inner.dll"))
    assert outer.startswith("priv_outer-") and outer.endswith(".dll") and len(outer) == 23
    assert {(g.name, g.member) for g in plan.grafts} == {
        ("priv_outer.dll", f"winext.libs/{outer}"),
        ("priv_inner.dll", f"winext.libs/{inner}"),
    }
    assert {e.member: e.replace for e in plan.edits} == {
        fixture.extension: (("priv_outer.dll", outer),),
        f"winext.libs/{outer}": (("priv_inner.dll", inner),),
    }
    assert all(e.format == "pe" for e in plan.edits)
    assert [name for name, _ in plan.files] == ["winext/__init__.py"]
    assert plan.platform_tags == ("win_amd64",)  # Windows tags stay as they are


def test_no_mangle(fixture: WindowsFixture) -> None:
    plan = _plan(fixture, RepairOptions(no_mangle=("PRIV_INNER.DLL",)))
    names = {g.name: g.new_name for g in plan.grafts}
    assert names["priv_inner.dll"] == "priv_inner.dll"
    assert names["priv_outer.dll"] != "priv_outer.dll"
    assert [e.member for e in plan.edits] == [fixture.extension]
    everything = _plan(fixture, RepairOptions(no_mangle_all=True))
    assert {g.new_name for g in everything.grafts} == {"priv_outer.dll", "priv_inner.dll"}
    assert everything.edits == () and everything.files  # still needs the DLL directory


def test_exclude_and_missing(fixture: WindowsFixture) -> None:
    plan = _plan(fixture, RepairOptions(exclude=("priv_inner*",)))
    assert [g.name for g in plan.grafts] == ["priv_outer.dll"]
    assert any("priv_inner.dll" in n for n in plan.notes)
    report = audit_wheel(fixture.wheel)
    assert report.context is not None
    with pytest.raises(MissingLibraryError, match=r"priv_outer\.dll"):
        WindowsPlanner().plan(report.context, report.verdicts["windows"], RepairOptions())


def test_plat_must_match_the_machine(fixture: WindowsFixture) -> None:
    assert _plan(fixture, RepairOptions(plat="win_amd64")).platform_tags == ("win_amd64",)
    with pytest.raises(RepairError, match="x86_64"):
        _plan(fixture, RepairOptions(plat="win32"))


# --- the whole repair ----------------------------------------------------------------------


def _check_imports_resolve(members: dict[str, bytes]) -> set[str]:
    """Every non-system DLL a PE member imports is a member exporting what is imported."""
    by_name = {Path(m).name.lower(): m for m in members}
    checked: set[str] = set()
    for member, data in members.items():
        if data[:2] != b"MZ":
            continue
        pe = pefile.PE(data=data)
        for entry in pe.DIRECTORY_ENTRY_IMPORT:
            dll = entry.dll.decode().lower()
            if not dll.startswith("priv_"):
                continue
            target = by_name[dll]  # exists in the wheel
            exported = read_pe(target, members[target]).exported
            assert {imp.name.decode() for imp in entry.imports} <= exported
            checked.add(f"{member} -> {target}")
    return checked


def test_repair_end_to_end(fixture: WindowsFixture, tmp_path: Path) -> None:
    before = _sha(fixture.wheel)
    result = repair_wheel(
        fixture.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fixture.lib_dir,))
    )
    assert _sha(fixture.wheel) == before  # input untouched
    assert result.output is not None and result.report.compliant
    assert result.output.name == fixture.wheel.name
    members = wheel_members(result.output)
    checked = _check_imports_resolve(members)
    assert len(checked) == 2  # extension -> outer, outer -> inner
    init = members["winext/__init__.py"].decode()
    assert init.startswith('"""The winext test package."""\n\nfrom __future__ import annotations')
    assert "os.add_dll_directory(libs)" in init and "'winext.libs'" in init
    compile(init, "winext/__init__.py", "exec")
    # The repaired wheel audits clean without any library path, and repairing it again
    # changes nothing.
    again = audit_wheel(result.output)
    assert again.compliant and again.external_libraries == {}
    assert again.context is not None
    noop = WindowsPlanner().plan(again.context, again.verdicts["windows"], RepairOptions())
    assert noop.grafts == () and noop.edits == () and noop.files == ()


def test_repair_x86(tmp_path: Path) -> None:
    fx = build_windows_fixture(tmp_path, "x86")
    result = repair_wheel(
        fx.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.output is not None and result.output.name.endswith("-win32.whl")
    assert len(_check_imports_resolve(wheel_members(result.output))) == 2


def test_cli_dry_run_and_repair(
    fixture: WindowsFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "wheelhouse"
    assert (
        main(
            [
                "repair",
                "--dry-run",
                "--lib-path",
                str(fixture.lib_dir),
                "-w",
                str(out),
                str(fixture.wheel),
            ]
        )
        == 0
    )
    assert "priv_outer" in capsys.readouterr().out and not out.exists()
    assert (
        main(
            [
                "repair",
                "--no-mangle-all",
                "--lib-path",
                str(fixture.lib_dir),
                "-w",
                str(out),
                str(fixture.wheel),
            ]
        )
        == 0
    )
    members = wheel_members(out / fixture.wheel.name)
    assert {"winext.libs/priv_outer.dll", "winext.libs/priv_inner.dll"} <= set(members)
    assert main(["repair", "-w", str(tmp_path / "none"), str(fixture.wheel)]) == 5


def test_top_level_extension_gets_a_pth(tmp_path: Path) -> None:
    fx = build_windows_fixture(tmp_path, members={}, extension=EXT)
    result = repair_wheel(
        fx.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.output is not None
    members = wheel_members(result.output)
    assert members["winext-mwheel-dlls.pth"] == b"import _mwheel_dlls_winext\n"
    module = members["_mwheel_dlls_winext.py"].decode()
    assert "os.path.dirname(__file__), 'winext.libs'" in module


def test_namespace_package_patches_the_first_regular_package(tmp_path: Path) -> None:
    members = {"ns/sub/__init__.py": b"# sub\n"}
    fx = build_windows_fixture(tmp_path, members=members, extension=f"ns/sub/{EXT}")
    result = repair_wheel(
        fx.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.output is not None
    init = wheel_members(result.output)["ns/sub/__init__.py"].decode()
    assert init.startswith("# sub\n")
    assert "os.pardir, os.pardir, 'winext.libs'" in init
    assert "ns/__init__.py" not in wheel_members(result.output)


def test_delay_imported_graft_is_renamed_and_preloaded(tmp_path: Path) -> None:
    fx = build_windows_fixture(tmp_path, delay=True)
    result = repair_wheel(
        fx.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.output is not None
    inner = next(g.new_name for g in result.plan.grafts if g.name == "priv_inner.dll")
    outer = next(g.member for g in result.plan.grafts if g.name == "priv_outer.dll")
    members = wheel_members(result.output)
    b = read_pe(outer, members[outer])
    assert b.pe is not None and b.pe.delay_imports == (inner,)
    assert f"for name in ({inner!r},):" in members["winext/__init__.py"].decode()


# --- the patcher -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ext_bytes() -> bytes:
    return build_chain("x86_64")[EXT].read_bytes()


def test_in_place_rename_keeps_the_layout(ext_bytes: bytes) -> None:
    out = rename_dlls("x", ext_bytes, {"PRIV_OUTER.DLL": "p_outer.dll"})
    assert len(out) == len(ext_bytes)
    assert read_pe("x", out).dependencies[0] == "p_outer.dll"
    assert sum(a != b for a, b in zip(out, ext_bytes, strict=True)) <= len("priv_outer.dll")


def test_longer_name_goes_into_a_new_section(ext_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / EXT
    path.write_bytes(ext_bytes)
    new = "priv_outer-0123456789abcdef.dll"
    PePatcher().apply(path, FileEdit(EXT, "pe", replace=(("priv_outer.dll", new),)))
    data = path.read_bytes()
    pe = pefile.PE(data=data)
    assert pe.sections[-1].Name.rstrip(b"\0") == SECTION_NAME
    assert pe.DIRECTORY_ENTRY_IMPORT[0].dll.decode() == new
    assert pe.OPTIONAL_HEADER.SizeOfImage >= pe.sections[-1].VirtualAddress + len(new)
    # Everything else is where it was: in the old sections only the descriptor's 4-byte
    # Name RVA changed.
    hdr = parse_headers("x", ext_bytes)
    name_field = (hdr.rva_to_offset(hdr.directory(ext_bytes, 1)[0], 20, len(ext_bytes)) or 0) + 12
    changed = {
        i
        for _, _, _, raw, size in hdr.sections
        for i in range(raw, raw + size)
        if data[i] != ext_bytes[i]
    }
    assert changed and changed <= set(range(name_field, name_field + 4))


def test_patcher_refuses_what_it_cannot_do(ext_bytes: bytes, tmp_path: Path) -> None:
    with pytest.raises(RepairError, match=r"does not import nothere\.dll"):
        rename_dlls("x", ext_bytes, {"nothere.dll": "y.dll"})
    crowded = bytearray(ext_bytes)
    hdr = parse_headers("x", crowded)
    slot = hdr.section_table_offset + 40 * len(hdr.sections)
    crowded[slot : slot + 8] = b"NOTFREE!"
    with pytest.raises(RepairError, match="no room for another section header"):
        rename_dlls("x", bytes(crowded), {"priv_outer.dll": "priv_outer-0123456789.dll"})
    path = tmp_path / "x.pyd"
    path.write_bytes(ext_bytes)
    with pytest.raises(RepairError, match="rpath"):
        PePatcher().apply(path, FileEdit("x.pyd", "pe", rpaths=("$ORIGIN",)))
    PePatcher().apply(path, FileEdit("x.pyd", "pe"))  # nothing to do: untouched
    assert path.read_bytes() == ext_bytes


@pytest.mark.corpus
def test_signed_dll_loses_its_signature_and_gets_a_valid_checksum(corpus: Path) -> None:
    wheel = corpus_wheel(corpus, "scikit_learn-*-win_amd64.whl")
    data = wheel_members(wheel)["sklearn/.libs/msvcp140.dll"]
    out = rename_dlls(
        "msvcp140.dll", data, {"VCRUNTIME140.dll": "vcruntime140-0123456789abcdef.dll"}
    )
    b = read_pe("msvcp140.dll", out)
    assert b.pe is not None and not b.pe.has_signature
    assert b.pe.checksum == b.pe.computed_checksum != 0
    assert pefile.PE(data=out).verify_checksum()
    hdr = parse_headers("x", out)
    assert struct.unpack_from("<II", out, hdr.directories_offset + 8 * 4) == (0, 0)


@pytest.mark.corpus
def test_delay_import_of_a_real_dll_renamed(corpus: Path) -> None:
    wheel = corpus_wheel(corpus, "llvmlite-*-win_amd64.whl")
    data = wheel_members(wheel)["llvmlite/binding/llvmlite.dll"]
    out = rename_dlls(
        "llvmlite.dll",
        data,
        {"OLE32.dll": "ole32-0123abcd.dll", "msvcp140.dll": "msvcp140-0123abcd.dll"},
    )
    pe = pefile.PE(data=out, fast_load=True)
    pe.parse_data_directories(directories=[1, 13])
    assert [e.dll for e in pe.DIRECTORY_ENTRY_DELAY_IMPORT] == [
        b"SHELL32.dll",
        b"ole32-0123abcd.dll",
    ]
    assert b"msvcp140-0123abcd.dll" in [e.dll for e in pe.DIRECTORY_ENTRY_IMPORT]
    assert not pe.get_warnings()
