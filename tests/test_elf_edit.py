"""mwheel's own ELF editor on real objects: gcc and zig builds for six architectures, glibc
and musl, ELF32 and ELF64, little and big endian.

Each edit is checked with pyelftools (the oracle: NEEDED, SONAME, RUNPATH read through the
section headers *and* through the program headers, as a loader does), with readelf (no
warning) and against patchelf's result for the same edit. test_elf_edit_run.py runs the
edited programs.
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


def test_not_dynamic_is_a_repair_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.so"
    bogus.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(100))
    before = bogus.read_bytes()
    with pytest.raises(RepairError, match=r"bogus: cannot edit ELF file"):
        edit_elf(bogus, FileEdit(member="bogus", format="elf", soname="x"))
    assert bogus.read_bytes() == before


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
