"""The new PT_LOAD segment the ELF editor adds when a table outgrows its place.

A new segment needs one more program header. The table stays where it is (binutils'
``strip``/``objcopy`` rewrite a file assuming the headers follow the ELF header, and Linux
before 5.18 derives AT_PHDR from e_phoff): the few sections right after it that only the
loader reaches through a header or a dynamic tag (``.interp``, notes, hash tables,
``.dynsym``, version tables, ``.dynstr``, relocation tables) move, as one block with its
inner layout kept, into the new segment, and their program headers, section headers,
dynamic tags and symbols follow by one displacement. Only when something else lies there
does the table itself move to the new segment (with PT_PHDR), as a last resort.

The segment lies above every other one in memory, is listed after the last PT_LOAD (loaders
size the mapping from the first and last), has the largest alignment of the others, and its
address is congruent to its offset modulo that and 64 KiB (aarch64 and ppc64le kernels may
use 64 KiB pages). It is writable only when ``.dynamic`` moves there (ld.so writes DT_DEBUG).
"""

from __future__ import annotations

from dataclasses import replace

from mwheel.repair.elf_file import (
    DT_STRTAB,
    PF_R,
    PF_W,
    PT_DYNAMIC,
    PT_INTERP,
    PT_LOAD,
    PT_PHDR,
    SHT_DYNSYM,
    SHT_NOBITS,
    ElfFile,
    Phdr,
)

Writes = list[tuple[int, bytes]]
# The largest page size of any Linux architecture wheels target (aarch64, ppc64le).
_MAX_PAGE = 0x10000
_PT_NOTE, _PT_GNU_PROPERTY = 4, 0x6474E553
# Sections the loader reaches only through a program header or a dynamic tag: REL(A/R),
# HASH, NOTE, DYNSYM, GNU_HASH, versym/verneed/verdef (and .interp, .dynstr, by identity).
_MOVABLE = frozenset({4, 5, 7, 9, 19, SHT_DYNSYM, 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF})
# Dynamic tags holding the address of such a section.
_ADDRESS_TAGS = frozenset(
    {4, 5, 6, 7, 17, 23, 36, 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFC, 0x6FFFFFFE}
)  # HASH STRTAB SYMTAB RELA REL JMPREL RELR GNU_HASH VERSYM VERDEF VERNEED


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def _block_after_phdrs(elf: ElfFile) -> tuple[int, int] | None:
    """The file range to move so the program header table can grow by one entry where it
    is; empty when the room is free already, None when something unmovable is in the way."""
    if not elf.shdrs:
        return None
    table_end = elf.phoff + len(elf.phdrs) * elf.phentsize
    lo, hi = table_end, table_end + elf.phentsize
    first = next(
        (p for p in elf.phdrs if p.type == PT_LOAD and p.offset <= elf.phoff < p.offset + p.filesz),
        None,
    )
    if first is None:
        return None
    interp = next((p for p in elf.phdrs if p.type == PT_INTERP), None)
    grown = True
    while grown:
        grown = False
        for i, s in enumerate(elf.shdrs):
            if s.type == SHT_NOBITS or not s.size or s.offset + s.size <= lo or s.offset >= hi:
                continue
            is_interp = interp is not None and (s.offset, s.size) == (interp.offset, interp.filesz)
            if s.offset < lo or not (s.type in _MOVABLE or i == elf.dynstr_section or is_interp):
                return None
            if s.offset + s.size > hi:
                hi, grown = s.offset + s.size, True
        for p in elf.phdrs:
            if p.type in (PT_LOAD, PT_PHDR) or not p.filesz:
                continue
            if p.offset + p.filesz <= lo or p.offset >= hi:
                continue
            if p.offset < lo or p.type not in (PT_INTERP, _PT_NOTE, _PT_GNU_PROPERTY):
                return None
            if p.offset + p.filesz > hi:
                hi, grown = p.offset + p.filesz, True
    if hi > first.offset + first.filesz:
        return None
    if not any(
        s.size and s.type != SHT_NOBITS and lo < s.offset + s.size and s.offset < hi
        for s in elf.shdrs
    ) and not any(elf.read(lo, hi - lo, "room after the program headers")):
        return (lo, lo)  # free room already: nothing moves
    return (lo, hi)


def new_segment(
    elf: ElfFile,
    entries: list[tuple[int, int]],
    table: bytes,
    move_strings: bool,
    shdr_updates: dict[int, tuple[int, int, int]],
    pending: Writes,
) -> Writes:
    """Every write once a new PT_LOAD segment holds what no longer fits: ``.dynamic`` when
    ``entries`` outgrow it, the string ``table`` when ``move_strings``. ``pending`` are the
    writes planned so far against the file as it is."""
    lay = elf.lay
    loads = [p for p in elf.phdrs if p.type == PT_LOAD]
    if not loads:
        raise elf.fail("no PT_LOAD segment")
    if len(elf.phdrs) + 1 >= 0xFFFF:
        raise elf.fail("too many program headers to add one")
    block = _block_after_phdrs(elf)
    move_phdrs = block is None
    if block and not move_strings and block[0] <= elf.strtab_offset < block[1]:
        # .dynstr moves with the block, and so does the slack after it that it grew into.
        block = (block[0], max(block[1], elf.strtab_offset + len(table)))
    top = max(p.vaddr + p.memsz for p in loads)
    offset = _align(elf.size, 16)
    is_program = any(p.type == PT_INTERP for p in elf.phdrs)
    # The file's own alignment, so loaders align it as before; the address is congruent
    # to the offset modulo 64 KiB as well, so the segment maps on every page size.
    align = max(p.align for p in loads) or 1
    if move_phdrs and is_program:
        # The kernel will find the headers at load address + e_phoff (before Linux 5.18).
        first = min(loads, key=lambda p: p.vaddr)
        delta = first.vaddr - first.offset
        offset = _align(max(offset, _align(top, align) - delta), 16)
        vaddr = offset + delta
    else:
        page = max(_MAX_PAGE, align)
        vaddr = _align(top, page) + offset % page
    phdrs = [replace(p) for p in elf.phdrs]
    phdr_size = (len(phdrs) + 1) * elf.phentsize
    size = phdr_size if move_phdrs else 0
    content: list[tuple[int, bytes]] = []
    moved: Writes = []  # pending writes that land in the moved block, re-aimed
    if block is not None and block[1] > block[0]:
        lo, hi = block
        old_vaddr = elf.offset_vaddr(lo)
        at = size + (old_vaddr - vaddr - size) % 64  # keeps every alignment inside the block
        doff, dv = offset + at - lo, vaddr + at - old_vaddr
        data = bytearray(elf.read(lo, hi - lo, "moved block"))
        for pos, chunk in pending:
            if lo <= pos < hi:
                data[pos - lo : pos - lo + len(chunk)] = chunk
                moved.append((pos, chunk))
        content.append((at, bytes(data)))
        size = at + len(data)
        for p in phdrs:
            if p.type not in (PT_LOAD, PT_PHDR) and lo <= p.offset < hi:
                p.offset, p.vaddr, p.paddr = p.offset + doff, p.vaddr + dv, p.paddr + dv
        for i, s in enumerate(elf.shdrs):
            if s.size and s.type != SHT_NOBITS and lo <= s.offset < hi:
                size_now = shdr_updates.get(i, (0, 0, s.size))[2]  # .dynstr may have grown
                shdr_updates[i] = (s.offset + doff, s.addr + dv, size_now)
        vlo, vhi = old_vaddr, old_vaddr + hi - lo
        entries = [(t, v + dv if t in _ADDRESS_TAGS and vlo <= v < vhi else v) for t, v in entries]
    move_dynamic = len(entries) + 1 > elf.dyn_slots
    dyn_at = str_at = 0
    if move_dynamic:
        dyn_at = _align(size, lay.word)
        size = dyn_at + (len(entries) + 1) * 2 * lay.word
    if move_strings:
        str_at = size
        size += len(table)
        entries = [(t, vaddr + str_at if t == DT_STRTAB else v) for t, v in entries]
    flags = PF_R | (PF_W if move_dynamic else 0)
    new_load = Phdr(PT_LOAD, flags, offset, vaddr, vaddr, size, size, align)
    last = max(i for i, p in enumerate(phdrs) if p.type == PT_LOAD)
    phdrs.insert(last + 1, new_load)
    phoff = offset if move_phdrs else elf.phoff
    for p in phdrs:
        if p.type == PT_PHDR:
            if move_phdrs:
                p.offset, p.vaddr, p.paddr = offset, vaddr, vaddr
            p.filesz = p.memsz = phdr_size
        elif p.type == PT_DYNAMIC and move_dynamic:
            p.offset, p.vaddr, p.paddr = offset + dyn_at, vaddr + dyn_at, vaddr + dyn_at
            p.filesz = p.memsz = (len(entries) + 1) * 2 * lay.word
    headers = b"".join(lay.pack_phdr(p) for p in phdrs)
    writes: Writes = [w for w in pending if w not in moved]
    if move_phdrs:
        content.append((0, headers))
    else:
        writes.append((phoff, headers))
    if move_dynamic:
        dyn = lay.pack_dyn(entries, len(entries) + 1)
        content.append((dyn_at, dyn))
        if elf.dyn_section is not None:
            shdr_updates[elf.dyn_section] = (offset + dyn_at, vaddr + dyn_at, len(dyn))
    else:
        writes.append((elf.dyn_phdr.offset, lay.pack_dyn(entries, elf.dyn_slots)))
    if move_strings:
        content.append((str_at, table))
        if elf.dynstr_section is not None:
            shdr_updates[elf.dynstr_section] = (offset + str_at, vaddr + str_at, len(table))
    segment = bytearray(size)
    for at, chunk in content:
        segment[at : at + len(chunk)] = chunk
    phoff_at, phnum_at = (32, 56) if lay.wide else (28, 44)
    writes.append((phoff_at, phoff.to_bytes(lay.word, "little" if lay.endian == "<" else "big")))
    writes.append((phnum_at, len(phdrs).to_bytes(2, "little" if lay.endian == "<" else "big")))
    # Writing past the end fills the gap with zeros; a gap larger than the file means
    # address fields no linker would write.
    if offset - elf.size > max(elf.size, 1 << 24):
        raise elf.fail(f"the new segment would start {offset - elf.size} bytes past the end")
    writes.append((offset, bytes(segment)))
    return writes
