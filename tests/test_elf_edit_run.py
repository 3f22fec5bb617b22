"""Programs edited by mwheel's ELF editor still run: natively, with musl's loader and under
qemu-user for five other architectures, after strip, after a second edit or a patchelf edit,
without section headers; real wheels' libraries still load; a repaired wheel is the same
with either editor."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from test_elf_edit import LONG, both_editors, build_pair, oracle, readelf_clean

from mwheel.binary import read_binary
from mwheel.repair.elf_edit import edit_elf
from mwheel.repair.model import FileEdit

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


def run_moved(exe: Path, lib: Path, libname: str, tmp_path: Path, name: str = "x86_64") -> str:
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
    """glibc loads the renamed, versioned library through the new RUNPATH and finds its
    symbol through the moved ``.dynsym``/``.gnu.hash`` (lld leaves no free DT_NULL slot, so
    the new RUNPATH entry moves the library's ``.dynamic`` too)."""
    pair = build_pair(name, tmp_path)
    lib_edit = FileEdit(member="lib", format="elf", soname=LONG, rpaths=("$ORIGIN",))
    lib, _ = both_editors(pair.lib, lib_edit, tmp_path)
    edit = FileEdit(
        member="exe",
        format="elf",
        replace=(("libmwedit.so", LONG),),
        remove=("libm.so.6",),
        rpaths=("$ORIGIN/libs",),
    )
    exe, _ = both_editors(pair.exe, edit, tmp_path)
    assert run_moved(exe, lib, LONG, tmp_path, name) == "42\n"
    # Edited again (the new segment exists already): still loads.
    again = FileEdit(member="exe", format="elf", replace=((LONG, "libmw-" + "z" * 90 + ".so"),))
    edit_elf(exe, again)
    readelf_clean(exe)
    assert run_moved(exe, lib, "libmw-" + "z" * 90 + ".so", tmp_path / "2", name) == "42\n"


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
    assert run_moved(exe, lib, LONG, tmp_path) == "42\n"


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
    assert run_moved(exe, lib, LONG, tmp_path) == "42\n"


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
    assert run_moved(ref, lib, LONG, tmp_path, "gcc-x86_64") == "42\n"


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
