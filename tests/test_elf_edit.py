"""mwheel's own ELF editor on real objects: gcc and zig builds for six architectures.

Each edit is checked with pyelftools (the oracle: NEEDED, SONAME, RUNPATH read through the
section headers *and* through the program headers, as a loader does), with readelf (no
warning), against patchelf's result for the same edit, and, for x86_64, by running the
edited program with its library moved to where the new RUNPATH points.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import SymbolTableSection
from fixturelib.build import Compiler, cache_root, compile_c

from mwheel.binary import read_binary
from mwheel.errors import RepairError
from mwheel.repair.elf_edit import edit_elf
from mwheel.repair.elf_patch import patchelf_args, patchelf_path
from mwheel.repair.model import FileEdit

LIB_C = "int lib_value(void) { return 42; }\n"
MAIN_C = (
    "#include <stdio.h>\nint lib_value(void);\n"
    'int main(void) { printf("%d\\n", lib_value()); return 0; }\n'
)
VERSIONS = "MWEDIT_1.0 { global: lib_value; local: *; };\n"
LONG = "libmwedit-" + "0123456789abcdef" * 5 + ".so"
# (zig target or None for gcc, ELF class, big endian)
TARGETS = {
    "gcc-x86_64": (None, 64, False),
    "x86_64": ("x86_64-linux-gnu.2.17", 64, False),
    "i686": ("x86-linux-gnu", 32, False),
    "aarch64": ("aarch64-linux-gnu", 64, False),
    "armv7": ("arm-linux-gnueabihf", 32, False),
    "ppc64le": ("powerpc64le-linux-gnu", 64, False),
    "s390x": ("s390x-linux-gnu", 64, True),
    "x86_64-musl": ("x86_64-linux-musl", 64, False),
}


@dataclass(frozen=True)
class Pair:
    lib: Path  # libmwedit.so, with versioned symbols, SONAME libmwedit.so
    exe: Path  # an executable needing it (and libm), DT_RPATH /nonexistent/...
    ext: Path  # a shared object needing it, no RPATH, no SONAME


def build_pair(name: str, tmp_path: Path) -> Pair:
    target = TARGETS[name][0]
    # Sources at a fixed path: the fixture cache keys on the arguments, which name them.
    src = cache_root() / "src-elf-edit"
    src.mkdir(parents=True, exist_ok=True)
    for file, text in (("lib.c", LIB_C), ("main.c", MAIN_C), ("v.map", VERSIONS)):
        if not (src / file).is_file() or (src / file).read_text() != text:
            (src / file).write_text(text)
    compiler: Compiler = "gcc" if target is None else "zig"

    def build(source: str, output: str, shared: bool = True, **kw: Any) -> Path:
        return compile_c(
            [src / source],
            output,
            compiler=compiler,
            target=target,
            include_python=False,
            shared=shared,
            **kw,
        )

    lib = build(
        "lib.c",
        "libmwedit.so",
        soname="libmwedit.so",
        extra_args=[f"-Wl,--version-script={src}/v.map"],
    )
    exe = build(
        "main.c",
        "main",
        shared=False,
        libs=["mwedit"],
        lib_dirs=[lib.parent],
        rpath=["/nonexistent/" + "d" * 40],
        runpath=False,
        extra_args=["-Wl,--no-as-needed", "-lm"],
    )
    ext = build("main.c", "ext.so", libs=["mwedit"], lib_dirs=[lib.parent])
    out = tmp_path / "in"
    out.mkdir(exist_ok=True)
    lib, exe, ext = (Path(shutil.copy(p, out / p.name)) for p in (lib, exe, ext))
    return Pair(lib, exe, ext)


@dataclass(frozen=True)
class Dyn:
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    verneed_files: tuple[str, ...]


def oracle(path: Path) -> Dyn:
    """The dynamic section as pyelftools reads it through the section headers, checked equal
    to what it reads through PT_DYNAMIC and DT_STRTAB (the loader's view)."""
    with open(path, "rb") as f:
        elf = ELFFile(io.BytesIO(f.read()))
    views = []
    sec = elf.get_section_by_name(".dynamic")
    seg = next(s for s in elf.iter_segments() if s["p_type"] == "PT_DYNAMIC")
    assert isinstance(sec, DynamicSection) and isinstance(seg, DynamicSegment)
    for dyn in (sec, seg):
        tags = [(t.entry.d_tag, t) for t in dyn.iter_tags()]

        def strings(tag: str, attr: str) -> tuple[str, ...]:
            return tuple(str(getattr(t, attr)) for d, t in tags if d == tag)  # noqa: B023

        sonames = strings("DT_SONAME", "soname")
        views.append(
            (
                strings("DT_NEEDED", "needed"),
                sonames[0] if sonames else None,
                strings("DT_RPATH", "rpath"),
                strings("DT_RUNPATH", "runpath"),
            )
        )
    assert views[0] == views[1], views
    verneed = elf.get_section_by_name(".gnu.version_r")
    assert verneed is None or isinstance(verneed, GNUVerNeedSection)
    files = tuple(str(v.name) for v, _aux in verneed.iter_versions()) if verneed else ()
    return Dyn(*views[0], verneed_files=files)


def symbols_follow_sections(path: Path) -> None:
    """Every section symbol and ``_DYNAMIC`` still points at its (maybe moved) section."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for table in elf.iter_sections():
            if not isinstance(table, SymbolTableSection):
                continue
            for sym in table.iter_symbols():
                shndx = sym["st_shndx"]
                if not isinstance(shndx, int) or not shndx:
                    continue
                section = elf.get_section(shndx)
                if sym["st_info"]["type"] == "STT_SECTION" or sym.name == "_DYNAMIC":
                    assert sym["st_value"] == section["sh_addr"], (path, sym.name)


def readelf_clean(path: Path) -> None:
    proc = subprocess.run(
        ["readelf", "-W", "-h", "-l", "-S", "-d", "-s", "-V", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def both_editors(path: Path, edit: FileEdit, tmp_path: Path) -> tuple[Path, Path | None]:
    """The file edited by mwheel, and by patchelf (None if not installed)."""
    own = Path(shutil.copy(path, tmp_path / f"own-{path.name}"))
    edit_elf(own, edit)
    try:
        tool = patchelf_path()
    except RepairError:
        return own, None
    ref = Path(shutil.copy(path, tmp_path / f"patchelf-{path.name}"))
    subprocess.run([tool, *patchelf_args(edit), str(ref)], check=True)
    return own, ref


def phnum(path: Path) -> int:
    with open(path, "rb") as f:
        return int(ELFFile(f).header["e_phnum"])


@pytest.mark.parametrize("name", list(TARGETS))
def test_long_names_force_a_new_segment(name: str, tmp_path: Path) -> None:
    pair = build_pair(name, tmp_path)
    _target, bits, big = TARGETS[name]
    with open(pair.lib, "rb") as f:
        header = ELFFile(f)
        assert (header.elfclass, header.little_endian) == (bits, not big)
    edits = {
        pair.lib: FileEdit(member="lib", format="elf", soname=LONG),
        pair.exe: FileEdit(
            member="exe",
            format="elf",
            replace=(("libmwedit.so", LONG),),
            remove=("libm.so.6",),
            rpaths=("$ORIGIN/libs", "$ORIGIN/../more.libs"),
        ),
        # No SONAME and no RUNPATH yet: two new dynamic entries.
        pair.ext: FileEdit(
            member="ext",
            format="elf",
            soname="ext-renamed.so",
            replace=(("libmwedit.so", LONG),),
            rpaths=("$ORIGIN/" + "x" * 200,),
        ),
    }
    for path, edit in edits.items():
        before = oracle(path)
        own, ref = both_editors(path, edit, tmp_path)
        after = oracle(own)
        readelf_clean(own)
        symbols_follow_sections(own)
        assert phnum(own) == phnum(path) + 1
        expected_needed = tuple(
            dict(edit.replace).get(n, n) for n in before.needed if n not in edit.remove
        )
        assert after.needed == expected_needed
        assert after.soname == (edit.soname or before.soname)
        assert after.rpath == ()
        assert after.runpath == ((":".join(edit.rpaths),) if edit.rpaths else before.runpath)
        assert after.verneed_files == tuple(
            dict(edit.replace).get(n, n) for n in before.verneed_files
        )
        # mwheel's own reader agrees too.
        binary = read_binary(path.name, own.read_bytes())
        assert binary.dependencies == expected_needed
        if ref is not None:
            patched = oracle(ref)
            assert (after.needed, after.soname, after.runpath) == (
                patched.needed,
                patched.soname,
                patched.runpath + patched.rpath,
            )
            assert after.verneed_files == patched.verneed_files


@pytest.mark.parametrize("name", ["gcc-x86_64", "x86_64", "s390x", "i686"])
def test_short_names_are_edited_in_place(name: str, tmp_path: Path) -> None:
    """New strings that fit where freed ones were: same size, no new segment, old path gone."""
    pair = build_pair(name, tmp_path)
    edit = FileEdit(
        member="exe",
        format="elf",
        replace=(("libmwedit.so", "libmwe.so"),),
        rpaths=("$ORIGIN/libs",),
    )
    own, _ref = both_editors(pair.exe, edit, tmp_path)
    assert own.stat().st_size == pair.exe.stat().st_size
    assert phnum(own) == phnum(pair.exe)
    after = oracle(own)
    assert after.runpath == ("$ORIGIN/libs",) and after.rpath == ()
    assert after.needed[0] == "libmwe.so" and "libmwe.so" in after.verneed_files
    assert b"/nonexistent/" not in own.read_bytes()
    readelf_clean(own)


def test_unchanged_edit_writes_nothing(tmp_path: Path) -> None:
    pair = build_pair("x86_64", tmp_path)
    before = pair.lib.read_bytes()
    edit_elf(pair.lib, FileEdit(member="lib", format="elf", soname="libmwedit.so"))
    assert pair.lib.read_bytes() == before


# How to run a program of each architecture here: natively, or under qemu-user with the
# target's glibc from Debian's multiarch packages (`dpkg --add-architecture arm64` and
# `apt-get install libc6:arm64`, likewise i386, s390x, armhf, ppc64el; .ci/run does it),
# which live under / like the host's.
RUNNERS: dict[str, tuple[list[str], Path]] = {
    "gcc-x86_64": ([], Path("/lib/x86_64-linux-gnu/libc.so.6")),
    "x86_64": ([], Path("/lib/x86_64-linux-gnu/libc.so.6")),
    "aarch64": (["qemu-aarch64", "-L", "/"], Path("/usr/lib/aarch64-linux-gnu/libc.so.6")),
    "i686": (["qemu-i386", "-L", "/"], Path("/usr/lib/i386-linux-gnu/libc.so.6")),
    "s390x": (["qemu-s390x", "-L", "/"], Path("/usr/lib/s390x-linux-gnu/libc.so.6")),
    "armv7": (["qemu-arm", "-L", "/"], Path("/usr/lib/arm-linux-gnueabihf/libc.so.6")),
    "ppc64le": (["qemu-ppc64le", "-L", "/"], Path("/usr/lib/powerpc64le-linux-gnu/libc.so.6")),
    # musl's loader (Debian's `musl` package) maps segments its own way (map_library).
    "x86_64-musl": ([], Path("/lib/ld-musl-x86_64.so.1")),
}


def _run_moved(exe: Path, lib: Path, libname: str, tmp_path: Path, name: str = "x86_64") -> str:
    """Run ``exe`` from a new directory, its library under ``libs/`` by ``libname``."""
    runner, libc = RUNNERS[name]
    if not libc.exists() or (runner and shutil.which(runner[0]) is None):
        pytest.skip(f"no {libc} or {runner[:1]} to run {name} programs")
    where = tmp_path / "run"
    (where / "libs").mkdir(parents=True)
    shutil.copy(exe, where / "main")
    shutil.copy(lib, where / "libs" / libname)
    proc = subprocess.run(
        [*runner, str(where / "main")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name", list(RUNNERS))
def test_edited_program_runs(name: str, tmp_path: Path) -> None:
    """glibc loads the renamed, versioned library through the new RUNPATH."""
    pair = build_pair(name, tmp_path)
    lib, _ = both_editors(pair.lib, FileEdit(member="lib", format="elf", soname=LONG), tmp_path)
    edit = FileEdit(
        member="exe",
        format="elf",
        replace=(("libmwedit.so", LONG),),
        remove=("libm.so.6",),
        rpaths=("$ORIGIN/libs",),
    )
    exe, _ = both_editors(pair.exe, edit, tmp_path)
    assert _run_moved(exe, lib, LONG, tmp_path, name) == "42\n"
    # Edited again (the new segment exists already): still loads.
    again = FileEdit(member="exe", format="elf", replace=((LONG, "libmw-" + "z" * 90 + ".so"),))
    edit_elf(exe, again)
    readelf_clean(exe)
    assert _run_moved(exe, lib, "libmw-" + "z" * 90 + ".so", tmp_path / "2", name) == "42\n"


def test_stripped_after_edit_still_runs(tmp_path: Path) -> None:
    """binutils' strip rewrites the file from its sections and segments: the new segment
    and the moved tables survive it."""
    pair = build_pair("gcc-x86_64", tmp_path)
    lib, _ = both_editors(pair.lib, FileEdit(member="lib", format="elf", soname=LONG), tmp_path)
    edit = FileEdit(
        member="exe", format="elf", replace=(("libmwedit.so", LONG),), rpaths=("$ORIGIN/libs",)
    )
    exe, _ = both_editors(pair.exe, edit, tmp_path)
    subprocess.run(["strip", "--strip-unneeded", str(exe), str(lib)], check=True)
    assert _run_moved(exe, lib, LONG, tmp_path) == "42\n"


def test_not_dynamic_is_a_repair_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.so"
    bogus.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(100))
    before = bogus.read_bytes()
    with pytest.raises(RepairError, match=r"bogus: cannot edit ELF file"):
        edit_elf(bogus, FileEdit(member="bogus", format="elf", soname="x"))
    assert bogus.read_bytes() == before


def test_without_section_headers_the_program_headers_move(tmp_path: Path) -> None:
    """A file stripped of its section headers (the loader does not need them): nothing
    says what follows the program headers, so the table itself moves to the new segment,
    PT_PHDR with it, at an address that keeps AT_PHDR right on old kernels."""
    pair = build_pair("gcc-x86_64", tmp_path)
    exe = Path(shutil.copy(pair.exe, tmp_path / "nosections"))
    lib = Path(shutil.copy(pair.lib, tmp_path / "libnosections.so"))
    for path in (exe, lib):
        with open(path, "r+b") as f:
            f.seek(0x28)
            f.write(bytes(8))  # e_shoff
            f.seek(0x3C)
            f.write(bytes(4))  # e_shnum, e_shstrndx
    edit_elf(lib, FileEdit(member="lib", format="elf", soname=LONG))
    assert read_binary("lib", lib.read_bytes()).elf.soname == LONG  # type: ignore[union-attr]
    edit = FileEdit(
        member="exe", format="elf", replace=(("libmwedit.so", LONG),), rpaths=("$ORIGIN/libs",)
    )
    edit_elf(exe, edit)
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        phdr = next(s for s in elf.iter_segments() if s["p_type"] == "PT_PHDR")
        assert phdr["p_offset"] == elf.header["e_phoff"] > 0x40
        first = next(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        assert phdr["p_vaddr"] - phdr["p_offset"] == first["p_vaddr"] - first["p_offset"]
    binary = read_binary("exe", exe.read_bytes())
    assert binary.dependencies[0] == LONG and binary.elf is not None
    assert binary.elf.runpath == ("$ORIGIN/libs",)
    assert _run_moved(exe, lib, LONG, tmp_path) == "42\n"


@pytest.mark.corpus
@pytest.mark.slow
def test_real_wheel_libraries_edited_like_patchelf_and_still_load(
    corpus: Path, tmp_path: Path
) -> None:
    """Every ELF file of two real wheels (llvmlite's 100 MB libLLVM build, pandas' 44
    extensions): mwheel and patchelf give the same NEEDED/SONAME/RUNPATH/version needs, and
    the file mwheel edited (hashed SONAME, new RUNPATH) still loads."""
    import sys
    import zipfile

    from conftest import corpus_wheel

    checked = 0
    for pattern in ("llvmlite-*manylinux*x86_64.whl", "pandas-*manylinux*x86_64.whl"):
        with zipfile.ZipFile(corpus_wheel(corpus, pattern)) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".so"):
                    continue
                path = tmp_path / "in.so"
                path.write_bytes(zf.read(info))
                before = oracle(path)
                edit = FileEdit(
                    member=info.filename,
                    format="elf",
                    soname="libmw-" + "a" * 64 + ".so",
                    rpaths=("$ORIGIN/../mw.libs", "$ORIGIN"),
                )
                own, ref = both_editors(path, edit, tmp_path)
                after = oracle(own)
                assert after.needed == before.needed
                if ref is not None:
                    patched = oracle(ref)
                    assert (after.soname, after.runpath) == (
                        patched.soname,
                        patched.runpath + patched.rpath,
                    )
                loaded = subprocess.run(
                    [sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(own)!r})"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert loaded.returncode == 0, (info.filename, loaded.stderr)
                checked += 1
    assert checked > 40


def test_corrupted_files_give_a_repair_error_and_stay_unchanged(tmp_path: Path) -> None:
    """Seeded byte flips in the headers and the dynamic section: the editor either edits
    or raises RepairError before writing anything; never another exception."""
    import random

    pair = build_pair("gcc-x86_64", tmp_path)
    base = pair.exe.read_bytes()
    with open(pair.exe, "rb") as f:
        dynamic = next(s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_DYNAMIC")
        dyn_lo, dyn_hi = dynamic["p_offset"], dynamic["p_offset"] + dynamic["p_filesz"]
    rng = random.Random(17)
    edit = FileEdit(
        member="exe", format="elf", replace=(("libmwedit.so", LONG),), rpaths=("$ORIGIN/l",)
    )
    errors = 0
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            pos = rng.choice([rng.randrange(0x400), rng.randrange(dyn_lo, dyn_hi)])
            data[pos] = rng.randrange(256)
        path = tmp_path / "fuzzed"
        path.write_bytes(bytes(data[: rng.randrange(len(data))] if rng.random() < 0.1 else data))
        before = path.read_bytes()
        try:
            edit_elf(path, edit)
        except RepairError as exc:
            assert str(exc).startswith("exe: cannot edit ELF file")
            assert path.read_bytes() == before
            errors += 1
    assert errors > 0


def test_file_edited_by_patchelf_is_edited_again(tmp_path: Path) -> None:
    """A file patchelf already rearranged (its own new segment) takes a second edit."""
    pair = build_pair("gcc-x86_64", tmp_path)
    lib, _ = both_editors(pair.lib, FileEdit(member="lib", format="elf", soname=LONG), tmp_path)
    first = FileEdit(
        member="exe", format="elf", replace=(("libmwedit.so", "libmw-" + "p" * 80 + ".so"),)
    )
    _own, ref = both_editors(pair.exe, first, tmp_path)
    if ref is None:
        pytest.skip("patchelf is not installed")
    second = FileEdit(
        member="exe",
        format="elf",
        replace=(("libmw-" + "p" * 80 + ".so", LONG),),
        rpaths=("$ORIGIN/libs",),
    )
    edit_elf(ref, second)
    readelf_clean(ref)
    assert _run_moved(ref, lib, LONG, tmp_path, "gcc-x86_64") == "42\n"


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["chain", "script"])
def test_repaired_wheels_are_the_same_with_either_editor(
    fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wheel a repair writes with mwheel's editor and with patchelf: same members, same
    audit, and every binary with the same dependencies, SONAME, RUNPATH and symbols."""
    import zipfile

    from fixturelib.linux import build_linux_fixture

    from mwheel.audit import audit_wheel
    from mwheel.repair import repair_wheel

    if shutil.which("patchelf") is None:
        pytest.skip("patchelf is not installed")
    fx = build_linux_fixture(fixture, tmp_path / "fx")
    out: dict[str, dict[str, object]] = {}
    for editor in ("own", "patchelf"):
        monkeypatch.setenv("MWHEEL_ELF_EDITOR", editor)
        result = repair_wheel(fx.wheel, tmp_path / editor)
        assert result.output is not None
        report = audit_wheel(result.output)
        seen: dict[str, object] = {
            "tags": result.plan.platform_tags,
            "audit": (report.best_tag, sorted(f.code for f in report.findings)),
        }
        with zipfile.ZipFile(result.output) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                if data[:4] == b"\x7fELF":
                    b = read_binary(name, data)
                    assert b.elf is not None
                    seen[name] = (
                        b.dependencies,
                        b.elf.soname,
                        b.elf.runpath,
                        b.elf.rpath,
                        b.elf.version_needs,
                        b.imported,
                        b.exported,
                    )
                elif not name.endswith(("RECORD", ".cdx.json")):
                    seen[name] = data
        out[editor] = seen
    assert out["own"] == out["patchelf"]


def test_editor_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """mwheel's own editor by default (no patchelf needed); a bad value is a usage error."""
    from mwheel.errors import UsageError
    from mwheel.repair.elf_patch import editor

    monkeypatch.delenv("MWHEEL_ELF_EDITOR", raising=False)
    assert editor() == "own"
    monkeypatch.setenv("MWHEEL_ELF_EDITOR", "PatchELF")
    assert editor() == "patchelf"
    monkeypatch.setenv("MWHEEL_ELF_EDITOR", "lief")
    with pytest.raises(UsageError, match="MWHEEL_ELF_EDITOR='lief'"):
        editor()
