"""The parts of an ELF file (System V gABI) that mwheel's own ELF editor rewrites.

``mwheel.binary.elf`` reads a file to audit it and keeps only what an audit needs; an
editor needs the raw tables it will write back (every program and section header field,
the dynamic entries with their capacity, the dynamic string table with its file position),
so this module decodes them into mutable working copies, ELF32 and ELF64, either byte
order. Every read is bounds-checked and raises ``RepairError`` naming the member.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields

from mwheel.binary import Buffer
from mwheel.binary.elf import ElfLayout
from mwheel.errors import RepairError

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_PHDR = 1, 2, 3, 6
PF_W, PF_R = 2, 4
SHT_SYMTAB, SHT_STRTAB, SHT_DYNAMIC, SHT_NOBITS, SHT_DYNSYM = 2, 3, 6, 8, 11
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME = 0, 1, 5, 10, 14
DT_RPATH, DT_RUNPATH = 15, 29
DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFC, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
# Dynamic tags whose value is an offset into the dynamic string table (gABI, GNU).
STRING_TAGS = frozenset(
    {DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH}
    | {0x7FFFFFFD, 0x7FFFFFFF, 0x6FFFFEFA, 0x6FFFFEFB, 0x6FFFFEFC}  # AUXILIARY FILTER CONFIG..
)
_MAX_ENTRIES = 1 << 20


@dataclass
class Phdr:
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


@dataclass
class Shdr:
    name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int


@dataclass(frozen=True)
class Layout(ElfLayout):
    """The reader's struct formats (gABI "Data Representation"), plus what writing needs."""

    @property
    def wide(self) -> bool:
        return self.bits == 64

    @property
    def word(self) -> int:
        return 8 if self.wide else 4

    @property
    def sym_size(self) -> int:
        return 24 if self.wide else 16

    def sym_value_at(self, pos: int) -> int:
        """Where st_value lies inside a symbol entry that starts at ``pos``."""
        return pos + (8 if self.wide else 4)

    def unpack_phdr(self, raw: Buffer, pos: int) -> Phdr:
        f = struct.unpack_from(self.phdr, raw, pos)
        if self.wide:
            return Phdr(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
        return Phdr(f[0], f[6], f[1], f[2], f[3], f[4], f[5], f[7])

    def pack_phdr(self, p: Phdr) -> bytes:
        if self.wide:
            values = (p.type, p.flags, p.offset, p.vaddr, p.paddr, p.filesz, p.memsz, p.align)
        else:
            values = (p.type, p.offset, p.vaddr, p.paddr, p.filesz, p.memsz, p.flags, p.align)
        return struct.pack(self.phdr, *values)

    def pack_shdr(self, s: Shdr) -> bytes:
        return struct.pack(self.shdr, *(getattr(s, f.name) for f in fields(Shdr)))

    def pack_dyn(self, entries: list[tuple[int, int]], slots: int) -> bytes:
        """``entries``, then DT_NULL up to ``slots`` entries."""
        full = entries + [(DT_NULL, 0)] * (slots - len(entries))
        return b"".join(struct.pack(self.dyn, tag, value) for tag, value in full)


class ElfFile:
    """Headers, dynamic entries and dynamic string table of one ELF file, decoded once."""

    def __init__(self, member: str, data: Buffer) -> None:
        self.member = member
        self.data = data
        self.size = len(data)
        ident = self.read(0, 16, "e_ident")
        if ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise self.fail("not an ELF file, or bad class or byte order")
        self.lay = Layout(64 if ident[4] == 2 else 32, "<" if ident[5] == 1 else ">")
        head = struct.calcsize(self.lay.header)
        (self.e_type, self.machine, _v, _entry, self.phoff, self.shoff, _flags, _ehsize,
         self.phentsize, phnum, self.shentsize, shnum, _shstrndx) = struct.unpack(
            self.lay.header, self.read(16, head, "ELF header"))  # fmt: skip
        self.ehdr_end = 16 + head
        if phnum and self.phentsize != struct.calcsize(self.lay.phdr):
            raise self.fail(f"program header entries of {self.phentsize} bytes")
        table = self.read(self.phoff, self.phentsize * phnum, "program header table")
        self.phdrs = [self.lay.unpack_phdr(table, i * self.phentsize) for i in range(phnum)]
        self.shdrs: list[Shdr] = []
        if self.shoff and shnum:
            if self.shentsize != struct.calcsize(self.lay.shdr):
                raise self.fail(f"section header entries of {self.shentsize} bytes")
            raw = self.read(self.shoff, self.shentsize * shnum, "section header table")
            self.shdrs = [
                Shdr(*struct.unpack_from(self.lay.shdr, raw, i * self.shentsize))
                for i in range(shnum)
            ]
        self._read_dynamic()

    def fail(self, what: str) -> RepairError:
        return RepairError(f"{self.member}: cannot edit ELF file: {what}")

    def read(self, offset: int, size: int, what: str) -> bytes:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise self.fail(f"{what} at offset {offset} (+{size}) lies outside the file")
        return bytes(self.data[offset : offset + size])

    def offset_of(self, vaddr: int, what: str) -> int:
        """The file offset a loader maps at ``vaddr`` (through the PT_LOAD segments)."""
        for p in self.phdrs:
            if p.type == PT_LOAD and p.vaddr <= vaddr < p.vaddr + p.filesz:
                return vaddr - p.vaddr + p.offset
        raise self.fail(f"{what} (address {vaddr:#x}) is not mapped from the file")

    def offset_vaddr(self, offset: int) -> int:
        """The address a loader maps the byte at file ``offset`` to."""
        for p in self.phdrs:
            if p.type == PT_LOAD and p.offset <= offset < p.offset + p.filesz:
                return offset - p.offset + p.vaddr
        raise self.fail(f"offset {offset:#x} is not in a loaded segment")

    def section_at(self, addr: int, kind: int) -> int | None:
        return next(
            (i for i, s in enumerate(self.shdrs) if s.type == kind and s.addr == addr and addr),
            None,
        )

    def _read_dynamic(self) -> None:
        seg = next((p for p in self.phdrs if p.type == PT_DYNAMIC), None)
        if seg is None:
            raise self.fail("no dynamic segment (statically linked?)")
        self.dyn_phdr = seg
        entsize = struct.calcsize(self.lay.dyn)
        raw = self.read(seg.offset, seg.filesz - seg.filesz % entsize, "PT_DYNAMIC")
        self.dyn_section = self.section_at(seg.vaddr, SHT_DYNAMIC)
        self.dyn_slots = len(raw) // entsize
        self.entries: list[tuple[int, int]] = []
        for tag, value in struct.iter_unpack(self.lay.dyn, raw):
            if tag == DT_NULL or len(self.entries) >= _MAX_ENTRIES:
                break
            self.entries.append((tag, value))
        values = dict(self.entries)
        if DT_STRTAB not in values or DT_STRSZ not in values:
            raise self.fail("no DT_STRTAB/DT_STRSZ in the dynamic section")
        self.strtab_addr, strsz = values[DT_STRTAB], values[DT_STRSZ]
        self.strtab_offset = self.offset_of(self.strtab_addr, "DT_STRTAB")
        self.dynstr = self.read(self.strtab_offset, strsz, "dynamic string table")
        self.dynstr_section = self.section_at(self.strtab_addr, SHT_STRTAB)

    def string(self, offset: int, what: str) -> str:
        if not 0 <= offset < len(self.dynstr):
            raise self.fail(f"{what}: string offset {offset} outside the string table")
        end = self.dynstr.find(b"\0", offset)
        return self.dynstr[offset : end if end >= 0 else None].decode("utf-8", "surrogateescape")

    def verneed_files(self) -> list[tuple[int, int]]:
        """(file offset of vn_file, its value) of each Elf_Verneed entry (GNU versioning)."""
        values = dict(self.entries)
        if DT_VERNEED not in values:
            return []
        pos = self.offset_of(values[DT_VERNEED], "DT_VERNEED")
        out = []
        for _ in range(min(values.get(DT_VERNEEDNUM, 0), _MAX_ENTRIES)):
            _ver, _cnt, vn_file, _aux, vn_next = struct.unpack(
                self.lay.endian + "HHIII", self.read(pos, 16, "Elf_Verneed")
            )
            out.append((pos + 4, vn_file))
            if vn_next == 0:
                break
            pos += vn_next
        return out

    def string_references(self) -> list[int] | None:
        """Every offset into the dynamic string table held by symbol and version names (not
        the dynamic section's nor Elf_Verneed.vn_file, which the editor rewrites), or None
        when they cannot all be found (no section headers): then nothing is overwritten."""
        if not self.shdrs or self.dynstr_section is None:
            return None
        refs: list[int] = []
        values = dict(self.entries)
        for s in self.shdrs:
            if s.type == SHT_DYNSYM and s.link == self.dynstr_section:
                raw = self.read(s.offset, s.size, ".dynsym")
                step = self.lay.sym_size  # st_name is the first word of either layout
                fmt = f"{self.lay.endian}I{step - 4}x"
                refs += [e[0] for e in struct.iter_unpack(fmt, raw[: len(raw) - len(raw) % step])]
        refs += self._version_name_refs(values)
        return refs

    def _version_name_refs(self, values: dict[int, int]) -> list[int]:
        """vna_name of each Elf_Vernaux and vda_name of each Elf_Verdaux."""
        refs: list[int] = []
        e = self.lay.endian
        if DT_VERNEED in values:
            pos = self.offset_of(values[DT_VERNEED], "DT_VERNEED")
            for _ in range(min(values.get(DT_VERNEEDNUM, 0), _MAX_ENTRIES)):
                _v, cnt, _f, aux, nxt = struct.unpack(e + "HHIII", self.read(pos, 16, "verneed"))
                apos = pos + aux
                for _ in range(cnt):
                    _h, _fl, _o, name, anext = struct.unpack(
                        e + "IHHII", self.read(apos, 16, "vernaux")
                    )
                    refs.append(name)
                    if anext == 0:
                        break
                    apos += anext
                if nxt == 0:
                    break
                pos += nxt
        if DT_VERDEF in values:
            pos = self.offset_of(values[DT_VERDEF], "DT_VERDEF")
            for _ in range(min(values.get(DT_VERDEFNUM, 0), _MAX_ENTRIES)):
                _v, _fl, _n, cnt, _h, aux, nxt = struct.unpack(
                    e + "HHHHIII", self.read(pos, 20, "verdef")
                )
                apos = pos + aux
                for _ in range(cnt):
                    name, anext = struct.unpack(e + "II", self.read(apos, 8, "verdaux"))
                    refs.append(name)
                    if anext == 0:
                        break
                    apos += anext
                if nxt == 0:
                    break
                pos += nxt
        return refs

    def slack_after_dynstr(self) -> int:
        """Zero bytes right after the dynamic string table that nothing else occupies and
        its load segment still maps: the table can grow into them without moving."""
        if not self.shdrs or self.dynstr_section is None:
            return 0
        end = self.strtab_offset + len(self.dynstr)
        loads = [p for p in self.phdrs if p.type == PT_LOAD]
        load = next((p for p in loads if p.offset <= end - 1 < p.offset + p.filesz), None)
        if load is None:
            return 0
        limit = load.offset + load.filesz
        for i, s in enumerate(self.shdrs):
            if i == self.dynstr_section or s.type == SHT_NOBITS or not s.size:
                continue
            if s.offset >= end:
                limit = min(limit, s.offset)
            elif s.offset + s.size > end:
                return 0
        for p in self.phdrs:
            if p.filesz and p.offset >= end and p.type != PT_LOAD:
                limit = min(limit, p.offset)
        if self.phoff >= end:
            limit = min(limit, self.phoff)
        gap = self.read(end, max(limit - end, 0), "slack")
        return len(gap) - len(gap.lstrip(b"\0"))
