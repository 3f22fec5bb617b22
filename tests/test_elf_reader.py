"""The struct-based ELF reader against pyelftools, the independent oracle, on real files.

Compared on every ELF member of the Linux fixtures and of the corpus wheels: DT_NEEDED,
RPATH, RUNPATH, SONAME, version needs per library and the undefined dynamic symbols.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from fixturelib.linux import LinuxFixture, build_linux_fixture

from mwheel.binary.elf import read_elf


def oracle(data: bytes) -> dict[str, object]:
    # pyelftools' stubs type sections and tags loosely: use them as Any.
    f: Any = ELFFile(io.BytesIO(data))
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname = None
    sec: Any
    tag: Any
    for sec in f.iter_sections():
        if isinstance(sec, DynamicSection):
            for tag in sec.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED" and tag.needed not in needed:
                    needed.append(tag.needed)
                elif kind == "DT_RPATH":
                    rpath += [p for p in tag.rpath.split(":") if p]
                elif kind == "DT_RUNPATH":
                    runpath += [p for p in tag.runpath.split(":") if p]
                elif kind == "DT_SONAME":
                    soname = tag.soname
    versions: dict[str, list[str]] = {}
    for sec in f.iter_sections():
        if isinstance(sec, GNUVerNeedSection):
            need: Any
            for need, auxes in sec.iter_versions():
                seen = versions.setdefault(need.name, [])
                seen += [a.name for a in auxes if a.name not in seen]
    dynsym = f.get_section_by_name(".dynsym")
    undefined = (
        sorted(s.name for s in dynsym.iter_symbols() if s["st_shndx"] == "SHN_UNDEF" and s.name)
        if dynsym
        else []
    )
    return {
        "needed": needed,
        "rpath": rpath,
        "runpath": runpath,
        "soname": soname,
        "versions": versions,
        "undefined": undefined,
        "machine": f.header["e_machine"],
    }


def ours(name: str, data: bytes) -> dict[str, object]:
    b = read_elf(name, data)
    assert b.elf is not None
    return {
        "needed": list(b.dependencies),
        "rpath": list(b.elf.rpath),
        "runpath": list(b.elf.runpath),
        "soname": b.elf.soname,
        "versions": {lib: list(v) for lib, v in b.elf.version_needs},
        "undefined": sorted(s.name for s in b.imported),
        "machine": b.elf.machine,
    }


def elf_members(wheel: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(wheel) as zf:
        out = [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]
    return [(n, d) for n, d in out if d[:4] == b"\x7fELF"]


@pytest.mark.parametrize("name", LinuxFixture.names())
def test_fixture_elves_match_pyelftools(name: str, tmp_path: Path) -> None:
    fx = build_linux_fixture(name, tmp_path)
    files = elf_members(fx.wheel) + [
        (str(p), p.read_bytes()) for d in fx.lib_dirs for p in d.iterdir() if p.is_file()
    ]
    for member, data in files:
        assert ours(member, data) == oracle(data), member


@pytest.mark.corpus
def test_corpus_elves_match_pyelftools(corpus: Path) -> None:
    checked = 0
    for wheel in sorted(corpus.glob("*linux*.whl")):
        for member, data in elf_members(wheel):
            assert ours(member, data) == oracle(data), (wheel.name, member)
            checked += 1
    assert checked > 50
