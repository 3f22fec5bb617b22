"""ELF reader (System V gABI, GNU symbol versioning, GNU property notes).

pyelftools locates headers, the dynamic section and the version tables; the dynamic symbol
table is decoded here in bulk with ``struct.iter_unpack`` because walking it one pyelftools
object at a time costs seconds on a large library (see README, "Choosing the ELF reader").
Every pyelftools or struct failure is turned into a ``BinaryError`` naming the member.
"""

from __future__ import annotations

import io
import mmap
import struct
from collections.abc import Iterator
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

from mwheel.binary import Buffer
from mwheel.binary.model import Binary, ElfInfo, Symbol
from mwheel.errors import BinaryError

# Bound on version-table walks: a hostile sh_info would otherwise make pyelftools loop.
_MAX_VERSION_ENTRIES = 4096

_ARCH = {
    ("EM_X86_64", 64): "x86_64",
    ("EM_386", 32): "i686",
    ("EM_AARCH64", 64): "aarch64",
    ("EM_S390", 64): "s390x",
    ("EM_ARM", 32): "armv7l",
    ("EM_RISCV", 64): "riscv64",
    ("EM_LOONGARCH", 64): "loongarch64",
}

_NT_GNU_PROPERTY_TYPE_0 = 5
_GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002

_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 1, 2, 10
_STT_SECTION, _STT_FILE = 3, 4


def _arch(machine: str, elf_class: int, big_endian: bool) -> str:
    if machine == "EM_PPC64":
        return "ppc64" if big_endian else "ppc64le"
    return _ARCH.get((machine, elf_class), f"{machine.removeprefix('EM_').lower()}")


def read_elf(member: str, data: Buffer) -> Binary:
    try:
        return _read(member, data)
    except BinaryError:
        raise
    except (
        ELFError,
        struct.error,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        AssertionError,
        UnicodeDecodeError,
        OverflowError,
        MemoryError,
        RecursionError,
    ) as exc:
        raise BinaryError(f"{member}: malformed ELF file: {type(exc).__name__}: {exc}") from None


def _read(member: str, data: Buffer) -> Binary:
    if len(data) < 52:
        raise BinaryError(f"{member}: truncated ELF header ({len(data)} bytes)")
    if data[4] not in (1, 2) or data[5] not in (1, 2):
        raise BinaryError(f"{member}: malformed ELF file: bad class or byte order in e_ident")
    stream: Any = data if isinstance(data, mmap.mmap) else io.BytesIO(data)
    stream.seek(0)
    elf = ELFFile(stream)
    header = elf.header
    elf_class = elf.elfclass
    big_endian = not elf.little_endian
    endian = ">" if big_endian else "<"

    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname = None
    # pyelftools objects are typed loosely; they are only used inside this module.
    sections: list[Any] = list(elf.iter_sections()) if elf.num_sections() else []
    dynamic: Any = next((s for s in sections if isinstance(s, DynamicSection)), None)
    if dynamic is None:
        dynamic = next((s for s in elf.iter_segments() if isinstance(s, DynamicSegment)), None)
    interpreter = None
    seg: Any
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_INTERP":
            interpreter = seg.get_interp_name()
    if dynamic is not None:
        for tag in _bounded(dynamic.iter_tags(), 1 << 16):
            kind = tag.entry.d_tag
            if kind == "DT_NEEDED":
                if tag.needed not in needed:
                    needed.append(tag.needed)
            elif kind == "DT_RPATH":
                rpath.extend(p for p in tag.rpath.split(":") if p)
            elif kind == "DT_RUNPATH":
                runpath.extend(p for p in tag.runpath.split(":") if p)
            elif kind == "DT_SONAME":
                soname = tag.soname

    # Version needs: index -> (version, library); version definitions: index -> name.
    need_by_index: dict[int, tuple[str, str]] = {}
    needs: dict[str, list[str]] = {}
    definitions: dict[int, str] = {}
    for sec in sections:
        if isinstance(sec, GNUVerNeedSection):
            for verneed, auxes in _bounded(sec.iter_versions(), _MAX_VERSION_ENTRIES):
                lib = verneed.name
                for aux in _bounded(auxes, _MAX_VERSION_ENTRIES):
                    need_by_index[aux["vna_other"]] = (aux.name, lib)
                    needs.setdefault(lib, [])
                    if aux.name not in needs[lib]:
                        needs[lib].append(aux.name)
        elif isinstance(sec, GNUVerDefSection):
            for verdef, auxes in _bounded(sec.iter_versions(), _MAX_VERSION_ENTRIES):
                first = next(iter(auxes), None)
                if first is not None:
                    definitions[verdef["vd_ndx"]] = first.name

    imported, exported = _symbols(sections, elf_class, endian, need_by_index, definitions)
    isa_level = _isa_level(sections, elf_class, endian)
    arch = _arch(header["e_machine"], elf_class, big_endian)
    info = ElfInfo(
        elf_class=elf_class,
        big_endian=big_endian,
        osabi=str(header["e_ident"]["EI_OSABI"]),
        machine=str(header["e_machine"]),
        file_type=str(header["e_type"]),
        interpreter=interpreter,
        soname=soname,
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        version_needs=tuple((lib, tuple(v)) for lib, v in needs.items()),
        version_definitions=tuple(definitions[k] for k in sorted(definitions)),
        isa_level=isa_level,
    )
    return Binary(
        member=member,
        format="elf",
        archs=(arch,),
        dependencies=tuple(needed),
        imported=imported,
        exported=exported,
        is_executable=info.file_type == "ET_EXEC" or (interpreter is not None and soname is None),
        elf=info,
        size=len(data),
    )


def _bounded(it: Any, limit: int) -> Iterator[Any]:
    for n, item in enumerate(it):
        if n >= limit:
            raise BinaryError("version or dynamic table does not terminate")
        yield item


def _symbols(
    sections: list[Any],
    elf_class: int,
    endian: str,
    need_by_index: dict[int, tuple[str, str]],
    definitions: dict[int, str],
) -> tuple[tuple[Symbol, ...], frozenset[str]]:
    dynsym = next((s for s in sections if s["sh_type"] == "SHT_DYNSYM"), None)
    if dynsym is None:
        return (), frozenset()
    versym_sec = next((s for s in sections if s["sh_type"] == "SHT_GNU_versym"), None)
    strtab = sections[dynsym["sh_link"]].data()
    raw = dynsym.data()
    if elf_class == 64:
        fmt, entsize = endian + "IBBHQQ", 24
    else:
        fmt, entsize = endian + "IIIBBH", 16
    usable = len(raw) - len(raw) % entsize
    versyms: tuple[int, ...] = ()
    if versym_sec is not None:
        vraw = versym_sec.data()
        versyms = tuple(v[0] for v in struct.iter_unpack(endian + "H", vraw[: len(vraw) & ~1]))
    imported: list[Symbol] = []
    exported: set[str] = set()
    find = strtab.find
    for i, entry in enumerate(struct.iter_unpack(fmt, raw[:usable])):
        if elf_class == 64:
            name_off, st_info, _other, shndx = entry[0], entry[1], entry[2], entry[3]
        else:
            name_off, st_info, shndx = entry[0], entry[3], entry[5]
        if name_off == 0 or name_off >= len(strtab):
            continue
        end = find(b"\0", name_off)
        name = strtab[name_off : end if end >= 0 else len(strtab)].decode("utf-8", "replace")
        vidx = versyms[i] & 0x7FFF if i < len(versyms) else 1
        if shndx == 0:
            version, lib = need_by_index.get(vidx, (None, None))
            imported.append(Symbol(name, version, lib, weak=(st_info >> 4) == _STB_WEAK))
        elif (st_info >> 4) in (_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE) and (
            st_info & 0xF
        ) not in (_STT_SECTION, _STT_FILE):
            exported.add(name)
    return tuple(imported), frozenset(exported)


def _isa_level(sections: list[Any], elf_class: int, endian: str) -> int | None:
    """The x86-64 ISA level from GNU_PROPERTY_X86_ISA_1_NEEDED, if the file records one."""
    align = 8 if elf_class == 64 else 4
    level = None
    for sec in sections:
        if sec["sh_type"] != "SHT_NOTE" or sec.name != ".note.gnu.property":
            continue
        raw = sec.data()
        pos = 0
        while pos + 12 <= len(raw):
            namesz, descsz, ntype = struct.unpack_from(endian + "III", raw, pos)
            pos += 12
            name = raw[pos : pos + namesz]
            pos += (namesz + 3) & ~3
            desc = raw[pos : pos + descsz]
            pos += (descsz + align - 1) & ~(align - 1)
            if ntype != _NT_GNU_PROPERTY_TYPE_0 or name.rstrip(b"\0") != b"GNU":
                continue
            p = 0
            while p + 8 <= len(desc):
                pr_type, pr_datasz = struct.unpack_from(endian + "II", desc, p)
                p += 8
                if pr_type == _GNU_PROPERTY_X86_ISA_1_NEEDED and pr_datasz >= 4:
                    bits = struct.unpack_from(endian + "I", desc, p)[0]
                    if bits:
                        level = max(level or 0, bits.bit_length())
                p += (pr_datasz + align - 1) & ~(align - 1)
    return level
