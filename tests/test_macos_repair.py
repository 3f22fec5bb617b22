"""macOS repair end to end on zig-built wheels, and the Mach-O patcher on real files.

After a repair every non-system load command must resolve inside the wheel, grafts carry
their new install ids, no absolute LC_RPATH is left, and every modified slice carries an
ad-hoc signature whose CodeDirectory hashes match its pages: checked here by a SuperBlob
parser written for the test (from xnu's cs_blobs.h), independent of mwheel's writer.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import struct
from pathlib import Path

import pytest
from fixturelib.macos import (
    ARM64_11,
    MacFixture,
    build_macos_fixture,
    dylib,
    extension,
    install,
    make_fat,
)
from fixturelib.wheels import make_wheel, wheel_members

from mwheel.audit.context import AuditOptions
from mwheel.binary import sniff
from mwheel.binary.macho import read_macho
from mwheel.cli import main
from mwheel.errors import RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.macho_patch import patch_macho
from mwheel.repair.model import FileEdit, RepairOptions

SYSTEM = ("/usr/lib/", "/System/")


def slices(data: bytes) -> list[bytes]:
    if data[:4] == b"\xca\xfe\xba\xbe":
        n = struct.unpack_from(">I", data, 4)[0]
        return [
            data[o : o + s]
            for o, s in (struct.unpack_from(">8xII", data, 8 + 20 * i) for i in range(n))
        ]
    return [data]


def command(blob: bytes, wanted: int) -> int:
    """Offset of the first load command ``wanted`` of a little-endian 64-bit slice."""
    ncmds, pos = struct.unpack_from("<I", blob, 16)[0], 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", blob, pos)
        if cmd == wanted:
            return pos
        pos += size
    raise AssertionError(f"no load command 0x{wanted:x}")


def first_section(blob: bytes) -> int:
    """File offset of the first section with contents: where the header must end."""
    ncmds, pos, first = struct.unpack_from("<I", blob, 16)[0], 32, len(blob)
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", blob, pos)
        if cmd == 0x19:
            for k in range(struct.unpack_from("<I", blob, pos + 64)[0]):
                sect_size, offset = struct.unpack_from("<QI", blob, pos + 72 + 80 * k + 40)
                if sect_size and offset:
                    first = min(first, offset)
        pos += size
    return first


def verify_signature(blob: bytes) -> dict[str, int | str]:
    """Check one slice's embedded signature against its pages; return the CodeDirectory."""
    ncmds = struct.unpack_from("<I", blob, 16)[0]
    pos, sig, linkedit = 32, None, None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", blob, pos)
        if cmd == 0x1D:
            sig = struct.unpack_from("<II", blob, pos + 8)
        if cmd == 0x19 and blob[pos + 8 : pos + 18] == b"__LINKEDIT":
            linkedit = struct.unpack_from("<4Q", blob, pos + 24)
        pos += size
    assert sig is not None, "no LC_CODE_SIGNATURE"
    assert linkedit is not None
    dataoff, datasize = sig
    assert dataoff + datasize == len(blob), "the signature must end the slice"
    assert linkedit[2] + linkedit[3] == len(blob), "__LINKEDIT must cover the signature"
    magic, length, count = struct.unpack_from(">3I", blob, dataoff)
    assert magic == 0xFADE0CC0 and length <= datasize
    index = dict(struct.unpack_from(">2I", blob, dataoff + 12 + 8 * i) for i in range(count))
    cd = dataoff + index[0]
    (
        cd_magic,
        _,
        version,
        flags,
        hash_off,
        ident_off,
        n_special,
        n_code,
        code_limit,
        hash_size,
        hash_type,
        _,
        page_shift,
    ) = struct.unpack_from(">9I4B", blob, cd)
    assert cd_magic == 0xFADE0C02 and version >= 0x20400
    assert flags & 0x2, "ad hoc"
    assert (hash_size, hash_type) == (32, 2)
    assert code_limit == dataoff
    page = 1 << page_shift
    assert n_code == -(-code_limit // page)
    for i in range(n_code):
        want = blob[cd + hash_off + 32 * i : cd + hash_off + 32 * (i + 1)]
        assert hashlib.sha256(blob[i * page : min((i + 1) * page, code_limit)]).digest() == want
    ident = blob[cd + ident_off : blob.index(b"\0", cd + ident_off)].decode()
    return {
        "flags": flags,
        "page_shift": page_shift,
        "special": n_special,
        "ident": ident,
        "version": version,
    }


def check_repaired(wheel: Path, fx: MacFixture) -> None:
    """Every structural promise of a repaired macOS wheel."""
    members = wheel_members(wheel)
    machos = {m: d for m, d in members.items() if sniff(d[:4096]) == "macho"}
    for graft in fx.grafts:
        assert f"{fx.package}/.dylibs/{graft}" in machos
    for member, data in machos.items():
        b = read_macho(member, data)
        assert b.macho is not None
        for s in b.macho.slices:
            assert not any(r.startswith("/") for r in s.rpaths), (member, s.rpaths)
            if member.startswith(f"{fx.package}/.dylibs/"):
                assert s.install_id == f"@rpath/{posixpath.basename(member)}"
            for load in s.loads:
                if load.name.startswith(SYSTEM):
                    continue
                assert load.name.startswith("@loader_path/"), (member, load.name)
                target = posixpath.normpath(
                    posixpath.join(
                        posixpath.dirname(member), load.name.removeprefix("@loader_path/")
                    )
                )
                assert target in machos, (member, load.name)
        for blob, s in zip(slices(data), b.macho.slices, strict=True):
            if s.arch == "arm64" or member.startswith(f"{fx.package}/.dylibs/"):
                info = verify_signature(blob)
                if member.startswith(f"{fx.package}/.dylibs/"):
                    assert info["flags"] == 0x20002 and info["page_shift"] == 12
                    assert info["ident"] == posixpath.basename(member)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("macos-repair")


def fixture(built: Path, name: str) -> MacFixture:
    return build_macos_fixture(name, built / name)


@pytest.mark.parametrize(
    "name", ["absolute", "newer", "universal2", "thin", "libpath", "chain", "tight", "tight_x86_64"]
)
def test_repair(built: Path, name: str, tmp_path: Path) -> None:
    fx = fixture(built, name)
    before = hashlib.sha256(fx.wheel.read_bytes()).hexdigest()
    result = repair_wheel(
        fx.wheel, tmp_path, RepairOptions(), AuditOptions(lib_paths=tuple(fx.lib_dirs))
    )
    assert result.output is not None and result.report.compliant
    assert result.plan.platform_tags == (fx.repaired_tag,)
    assert result.output.name.endswith(f"-cp311-cp311-{fx.repaired_tag}.whl")
    assert hashlib.sha256(fx.wheel.read_bytes()).hexdigest() == before, "input untouched"
    for d in fx.lib_dirs:  # the repaired wheel needs nothing from outside any more
        shutil.rmtree(d)
    check_repaired(result.output, fx)


def test_newer_dylib_retags_the_wheel(built: Path, tmp_path: Path) -> None:
    fx = fixture(built, "newer")
    plan = repair_wheel(fx.wheel, tmp_path, dry_run=True).plan
    assert plan.platform_tags == ("macosx_13_0_arm64",)
    assert any("arm64 slice) needs macOS 13.0" in n for n in plan.notes), plan.notes
    assert not list(tmp_path.iterdir()), "--dry-run writes nothing"


def test_require_archs_fails_clearly(built: Path, tmp_path: Path) -> None:
    fx = fixture(built, "thin")
    for archs in (("x86_64", "arm64"), ("universal2",)):
        with pytest.raises(RepairError) as err:
            repair_wheel(fx.wheel, tmp_path, RepairOptions(require_archs=archs))
        assert "libmwthin.dylib has no x86_64" in err.value.message
        assert "\n" not in err.value.message
    code = main(["repair", str(fx.wheel), "-w", str(tmp_path), "--require-archs", "x86_64,arm64"])
    assert code == 6 and not list(tmp_path.glob("*.whl"))


def load_commands(blob: bytes) -> list[int]:
    ncmds, pos, out = struct.unpack_from("<I", blob, 16)[0], 32, []
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", blob, pos)
        out.append(cmd)
        pos += size
    return out


@pytest.mark.parametrize(("name", "signed"), [("tight", True), ("tight_x86_64", False)])
def test_no_header_room_is_made_room_for(
    built: Path, tmp_path: Path, name: str, signed: bool
) -> None:
    """zig leaves no padding: arm64 is 16 bytes short (LC_SOURCE_VERSION makes room); the
    x86_64 slice, unsigned as zig leaves it, is 24 short and stays unsigned (macOS runs
    unsigned x86_64 code) without LC_SOURCE_VERSION."""
    fx = fixture(built, name)
    before = wheel_members(fx.wheel)[fx.extension]
    result = repair_wheel(
        fx.wheel, tmp_path, RepairOptions(), AuditOptions(lib_paths=tuple(fx.lib_dirs))
    )
    assert result.output is not None and result.report.compliant
    after = wheel_members(result.output)[fx.extension]
    kept = load_commands(after)
    assert 0x2A not in kept and 0x2A in load_commands(before)  # LC_SOURCE_VERSION
    assert 0xE in kept  # LC_LOAD_DYLINKER stays: step 3 was not needed
    assert (0x1D in kept) == signed  # LC_CODE_SIGNATURE
    assert 32 + struct.unpack_from("<I", after, 20)[0] <= first_section(after)
    assert first_section(after) == first_section(before), "nothing but the header moved"
    if signed:
        verify_signature(after)


def test_no_header_room_left_fails_with_bytes_missing(built: Path, tmp_path: Path) -> None:
    """The tight extension 16 directories deep: its load command grows from 48 to 112 bytes
    (``@loader_path/../../...``), 8 more than every step frees (16 + 32 + 8), so the repair
    refuses and says how many bytes are missing."""
    fx = fixture(built, "tight")
    deep = f"{fx.package}/{'d/' * 16}_ext.cpython-311-darwin.so"
    wheel = make_wheel(
        tmp_path / "in",
        "mwfix_deep",
        "1.0",
        "cp311-cp311-macosx_11_0_arm64",
        {f"{fx.package}/__init__.py": b"", deep: wheel_members(fx.wheel)[fx.extension]},
    )
    with pytest.raises(RepairError) as err:
        repair_wheel(wheel, tmp_path, RepairOptions(), AuditOptions(lib_paths=tuple(fx.lib_dirs)))
    assert err.value.message.startswith(f"{deep}: the arm64 slice's load commands need ")
    assert "8 bytes missing" in err.value.message, err.value.message
    assert not list(tmp_path.glob("*.whl"))


def test_cli_dry_run_json(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fx = fixture(built, "chain")
    code = main(["repair", str(fx.wheel), "-w", str(tmp_path), "--dry-run", "--format", "json"])
    assert code == 0 and not list(tmp_path.iterdir())
    out = capsys.readouterr().out
    assert "@loader_path/../.dylibs/libmwouter.dylib" in out
    assert "replace @rpath/libmwinner.dylib -> @loader_path/libmwinner.dylib" in out
    json.loads(out)


def test_unsigned_arm64_gets_signed(tmp_path: Path) -> None:
    from test_macos_audit import unsigned

    ext = unsigned(extension("clean_ext.c", ARM64_11).read_bytes())
    member = "pkg/_ext.cpython-311-darwin.so"
    wheel = make_wheel(
        tmp_path,
        "pkg",
        "1.0",
        "cp311-cp311-macosx_11_0_arm64",
        {"pkg/__init__.py": b"", member: ext},
    )
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None and result.report.compliant
    info = verify_signature(wheel_members(result.output)[member])
    assert info["ident"] == "_ext.cpython-311-darwin.so"


# --- the patcher on files ---------------------------------------------------------


def load_names(data: bytes) -> list[list[str]]:
    b = read_macho("x", data)
    assert b.macho is not None
    return [[ld.name for ld in s.loads] for s in b.macho.slices]


@pytest.fixture(scope="module")
def arm64_dep(built: Path) -> tuple[bytes, str]:
    """An arm64 extension loading a dylib by a long absolute install name."""
    fx = fixture(built, "absolute")
    data = wheel_members(fx.wheel)[fx.extension]
    return data, str(fx.lib_dirs[0] / "libmwabsolute.dylib")


def test_patch_in_place_and_growing(arm64_dep: tuple[bytes, str]) -> None:
    data, old = arm64_dep
    sizeofcmds = struct.unpack_from("<I", data, 20)[0]
    short = patch_macho("m.so", data, FileEdit("m.so", "macho", replace=((old, "@loader_path/a"),)))
    assert struct.unpack_from("<I", short, 20)[0] == sizeofcmds  # fits: size kept
    long_name = "@loader_path/" + "d/" * 200 + "libmwabsolute.dylib"
    grown = patch_macho("m.so", data, FileEdit("m.so", "macho", replace=((old, long_name),)))
    assert struct.unpack_from("<I", grown, 20)[0] > sizeofcmds  # grew into the padding
    for out, name in ((short, "@loader_path/a"), (grown, long_name)):
        assert load_names(out) == [["/usr/lib/libSystem.B.dylib", name]]
        verify_signature(out)
        # Nothing after the header moved: sections and symbols are byte-identical.
        start = first_section(data)
        dataoff = struct.unpack_from("<I", data, command(data, 0x1D) + 8)[0]
        assert first_section(out) == start
        assert out[start:dataoff] == data[start:dataoff]


def test_patch_rpaths_and_id(built: Path) -> None:
    fx = fixture(built, "chain")
    outer = (fx.lib_dirs[0] / "libmwouter.dylib").read_bytes()
    edit = FileEdit(
        "libmwouter.dylib",
        "macho",
        rpaths=("@loader_path/x",),
        soname="@rpath/libmwouter.dylib",
        replace=(("@rpath/libmwinner.dylib", "@loader_path/libmwinner.dylib"),),
    )
    b = read_macho("o", patch_macho("o", outer, edit))
    assert b.macho is not None
    (s,) = b.macho.slices
    assert s.rpaths == ("@loader_path/x",) and s.install_id == "@rpath/libmwouter.dylib"
    assert [ld.name for ld in s.loads] == [
        "/usr/lib/libSystem.B.dylib",
        "@loader_path/libmwinner.dylib",
    ]


def test_patch_fat_signs_every_modified_slice(built: Path) -> None:
    fx = fixture(built, "universal2")
    data = wheel_members(fx.wheel)[fx.extension]
    old = str(fx.lib_dirs[0] / "libmwuniversal2.dylib")
    out = patch_macho("m.so", data, FileEdit("m.so", "macho", replace=((old, "@loader_path/u"),)))
    n = struct.unpack_from(">I", out, 4)[0]
    for i in range(n):
        _, _, offset, _, align = struct.unpack_from(">iIIII", out, 8 + 20 * i)
        assert offset % (1 << align) == 0
    assert load_names(out) == [["/usr/lib/libSystem.B.dylib", "@loader_path/u"]] * 2
    for blob in slices(out):  # the x86_64 slice was unsigned: it gains a signature
        verify_signature(blob)


def test_signature_matches_the_linkers_layout() -> None:
    """Re-signing zig's output changes nothing but the page size: same flags, version,
    identifier and executable segment as the linker's own ad-hoc signature."""
    data = extension("clean_ext.c", ARM64_11).read_bytes()
    ours = patch_macho("_ext.so", data, FileEdit("pkg/_ext.so", "macho", extra=(("sign", True),)))
    zig, mine = verify_signature(data), verify_signature(ours)
    assert {k: v for k, v in zig.items() if k != "page_shift"} == {
        k: v for k, v in mine.items() if k != "page_shift"
    }
    assert mine["page_shift"] == 12


def test_patch_refuses_what_it_cannot_do(arm64_dep: tuple[bytes, str]) -> None:
    data, old = arm64_dep
    with pytest.raises(RepairError, match=r"^m\.so: the .* fit before the first section"):
        patch_macho(
            "m.so", data, FileEdit("m.so", "macho", replace=((old, "@loader_path/" + "x" * 8000),))
        )
    with pytest.raises(RepairError, match="two-level namespace ordinals"):
        patch_macho("m.so", data, FileEdit("m.so", "macho", remove=(old,)))
    with pytest.raises(RepairError, match=r"^m\.so: cannot patch: load commands .* past"):
        patch_macho("m.so", data[:100], FileEdit("m.so", "macho", extra=(("sign", True),)))


def test_fat_of_unchanged_slices_is_untouched(built: Path) -> None:
    fx = fixture(built, "universal2")
    data = make_fat(slices(wheel_members(fx.wheel)[fx.extension]))
    assert patch_macho("m.so", data, FileEdit("m.so", "macho")) == data


def test_plat_may_ask_for_more_but_not_less(built: Path, tmp_path: Path) -> None:
    fx = fixture(built, "newer")
    higher = repair_wheel(fx.wheel, tmp_path, RepairOptions(plat="macosx_14_0_arm64"), dry_run=True)
    assert higher.plan.platform_tags == ("macosx_14_0_arm64",)
    with pytest.raises(RepairError) as err:
        repair_wheel(fx.wheel, tmp_path, RepairOptions(plat="macosx_12_0_arm64"), dry_run=True)
    assert "cannot reach macosx_12_0_arm64" in err.value.message
    assert "libmwnewer.dylib" in err.value.message and "13.0" in err.value.message


def test_json_report_matches_the_schema(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    fx = fixture(built, "universal2")
    assert main(["audit", "--format", "json", str(fx.wheel)]) == 1
    doc = json.loads(capsys.readouterr().out)
    schema = Path(__file__).parents[1] / "mwheel" / "report-schema.json"
    jsonschema.validate(doc, json.loads(schema.read_text()))
    (finding,) = [f for f in doc["wheels"][0]["findings"] if f["severity"] == "error"]
    assert finding["code"] == "macos-library-external"
    assert finding["load"] == "LC_LOAD_DYLIB in the x86_64, arm64 slices"


def test_dead_rpath_goes_first_when_the_header_is_full(tmp_path: Path) -> None:
    """A zig link with no padding and an LC_RPATH to a directory holding nothing: dropping
    that rpath (40 bytes) makes room, so LC_SOURCE_VERSION stays."""
    lib_dir = tmp_path / "libs"
    lib = dylib("dep_lib.c", "libmwdead.dylib", ARM64_11, "libmwdead.dylib")
    install(lib, lib_dir / "libmwdead.dylib")
    ext = extension(
        "dep_ext.c", ARM64_11, [lib], ["-Wl,-headerpad,0", "-Wl,-rpath,@loader_path/../nowhere"]
    )
    member = "mwdead/_ext.cpython-311-darwin.so"
    wheel = make_wheel(
        tmp_path / "in",
        "mwdead",
        "1.0",
        "cp311-cp311-macosx_11_0_arm64",
        {"mwdead/__init__.py": b"", member: ext},
    )
    result = repair_wheel(wheel, tmp_path / "out", audit_options=AuditOptions(lib_paths=(lib_dir,)))
    assert result.output is not None and result.report.compliant
    after = wheel_members(result.output)[member]
    kept = load_commands(after)
    assert 0x8000001C not in kept  # LC_RPATH
    assert 0x2A in kept  # LC_SOURCE_VERSION was not needed
    verify_signature(after)
