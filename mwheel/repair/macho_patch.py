"""The Mach-O patcher: install names, install id and LC_RPATHs of each slice, then re-signing.

Each slice's load command table is rebuilt in one go (``mach-o/loader.h``). A command whose
new string fits in its existing ``cmdsize`` (the linker pads strings to 8 bytes) keeps its
size; a longer one grows, and the table then extends into the padding between the load
commands and the first section, which linkers leave for exactly this
(``-headerpad``/``-headerpad_max_install_names``). Nothing else moves, so no other offset
in the file changes.

When the padding is too small (zig and ``-headerpad``-less links leave none), room is made
inside the header, in this order, each step only if still needed (``_make_room``):

0. @loader_path LC_RPATHs that lead to no directory holding a Mach-O file of the wheel
   (the planner names them: nothing can be found through them) are dropped;
1. a slice of an architecture macOS runs unsigned (x86_64) that had no signature is left
   unsigned instead of gaining an LC_CODE_SIGNATURE (16 bytes);
2. LC_SOURCE_VERSION is dropped: loader.h calls it optional, dyld never reads it (16);
3. LC_LOAD_DYLINKER of a dylib or bundle is dropped: only the main executable's is used,
   and ld64 writes none there (zig does; 32 bytes);
4. the tool entries of LC_BUILD_VERSION (which linker built it) are dropped (8 each).

Dead LC_RPATHs (absolute, build-tree, current-directory-relative) are already gone by then
(the planner drops them). On the zig-linked "tight" fixtures (no padding at all) the arm64
slice is 16 bytes short and fits after step 2; the x86_64 one is 24 short and fits after
steps 1-2. Only when every step together is not enough does the repair fail, with the
number of bytes missing. Moving ``__text`` to grow the header is not an option: lief 1.0
does it (it inserts a 16 KiB page and shifts every section's offset and address: 50,216 ->
66,600 bytes, ``__text`` 0x578 -> 0x4578), which rewrites addresses throughout the file, a
relink-sized change nobody can check without a Mac.

Load commands for dylibs are never removed or reordered: the symbol table's two-level
namespace ordinals count them. Every modified slice is signed ad hoc afresh
(``codesign.py``); a fat file is reassembled with each slice at its original alignment.
"""

from __future__ import annotations

import posixpath
import struct
from dataclasses import dataclass
from pathlib import Path

from macholib import mach_o as mo

from mwheel.binary.macho import (
    DYLIB_LOADS,
    FAT_MAGICS,
    SliceHeader,
    arch_name,
    parse_fat,
    parse_slice,
)
from mwheel.errors import BinaryError, RepairError
from mwheel.repair import codesign
from mwheel.repair.model import FileEdit

_ZEROFILL = {0x1, 0xC, 0x12}  # S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL
_ARM64 = 0x0100000C
_SIG_ALIGN = 16  # ld places the signature on a 16-byte boundary
_SIG_CMD_SIZE = 16  # sizeof(struct linkedit_data_command)
# Architectures whose code macOS refuses to run unsigned (policies/macos.json repeats it;
# the planner passes the policy's list as the edit's "signature_required").
_SIGNATURE_REQUIRED = ("arm64", "arm64e")


@dataclass
class _Command:
    cmd: int
    raw: bytes


class MachOPatcher:
    def apply(self, path: Path, edit: FileEdit) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RepairError(f"{edit.member}: cannot read {path}: {exc}") from None
        out = patch_macho(edit.member, data, edit)
        if out != data:
            path.write_bytes(out)


def patch_macho(member: str, data: bytes, edit: FileEdit) -> bytes:
    """The bytes of ``data`` with ``edit`` applied to every slice."""
    try:
        fat, entries = parse_fat(member, data)
        if not fat:
            return _patch_slice(member, data, edit)
        originals = [data[e.offset : e.offset + e.size] for e in entries]
        slices = [_patch_slice(member, blob, edit) for blob in originals]
        if slices == originals:
            return data
    except BinaryError as exc:
        why = exc.message.removeprefix(f"{member}: ")
        raise RepairError(f"{member}: cannot patch: {why}") from None
    except struct.error as exc:
        raise RepairError(f"{member}: cannot patch: malformed Mach-O: {exc}") from None
    wide = FAT_MAGICS[struct.unpack_from(">I", data)[0]] or any(len(s) >= 1 << 32 for s in slices)
    entry = struct.Struct(">iIQQII" if wide else ">iIIII")
    pos = 8 + len(entries) * entry.size
    table = [struct.pack(">II", mo.FAT_MAGIC_64 if wide else mo.FAT_MAGIC, len(entries))]
    body = bytearray()
    for e, blob in zip(entries, slices, strict=True):
        offset = _align(pos, 1 << e.align)
        body += bytes(offset - pos) + blob
        pos = offset + len(blob)
        fields = (e.cputype, e.cpusubtype, offset, len(blob), e.align)
        table.append(entry.pack(*fields, 0) if wide else entry.pack(*fields))
    return b"".join(table) + bytes(body)


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def _encode_str_command(raw: bytes, e: str, fixed: int, text: str, pad: int) -> bytes:
    """Re-encode a command whose one lc_str (at offset ``fixed``) is to hold ``text``."""
    string = text.encode("utf-8", "surrogateescape") + b"\0"
    size = _align(fixed + len(string), pad)
    if size <= len(raw):
        size = len(raw)  # fits in place: keep the command's size, pad with zeros
    return (
        raw[:4]
        + struct.pack(e + "II", size, fixed)
        + raw[12:fixed]
        + string.ljust(size - fixed, b"\0")
    )


def _patch_slice(member: str, blob: bytes, edit: FileEdit) -> bytes:
    head = parse_slice(member, blob, 0, len(blob))
    e = head.endian
    pad = 8 if head.is64 else 4
    cmds = [_Command(c.cmd, blob[c.offset : c.offset + c.size]) for c in head.commands]
    replace = dict(edit.replace)
    changed = False

    def text(c: _Command) -> str:
        (off,) = struct.unpack_from(e + "I", c.raw, 8)
        return c.raw[off:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    names = {text(c) for c in cmds if c.cmd in DYLIB_LOADS}
    gone = [n for n in edit.remove if n in names]
    if gone:
        raise RepairError(
            f"{member}: removing {gone[0]} would renumber the two-level "
            "namespace ordinals of the symbol table"
        )
    for c in cmds:
        if c.cmd in DYLIB_LOADS and text(c) in replace:
            c.raw = _encode_str_command(c.raw, e, 24, replace[text(c)], pad)
            changed = True
        elif c.cmd == mo.LC_ID_DYLIB and edit.soname and text(c) != edit.soname:
            c.raw = _encode_str_command(c.raw, e, 24, edit.soname, pad)
            changed = True
    if edit.rpaths is not None:
        old = [text(c) for c in cmds if c.cmd == mo.LC_RPATH]
        wanted = list(dict.fromkeys(edit.rpaths))
        if old != wanted:
            changed = True
            kept = [c for c in cmds if c.cmd != mo.LC_RPATH or text(c) in wanted]
            seen: set[str] = set()
            cmds = []
            for c in kept:  # drop duplicates of a kept rpath too
                if c.cmd == mo.LC_RPATH:
                    if text(c) in seen:
                        continue
                    seen.add(text(c))
                cmds.append(c)
            for path in wanted:
                if path not in seen:
                    stub = struct.pack(e + "III", mo.LC_RPATH, 12, 12)
                    cmds.append(_Command(mo.LC_RPATH, _encode_str_command(stub, e, 12, path, pad)))
    extra = dict(edit.extra)
    sign = bool(extra.get("sign", False))
    if not changed and not sign:
        return blob
    required = tuple(extra.get("signature_required", _SIGNATURE_REQUIRED))
    # A changed slice is always signed afresh (its old signature no longer matches), unless
    # it had none and the header has no room for one (_make_room).
    dead = frozenset(extra.get("dead_rpaths", ()))
    cmds, sign = _make_room(member, blob, head, cmds, True, required, dead)
    if not sign:
        return _write_commands(blob, head, cmds)
    return _sign(member, blob, head, cmds, posixpath.basename(edit.member))


def _make_room(
    member: str,
    blob: bytes,
    head: SliceHeader,
    cmds: list[_Command],
    sign: bool,
    required: tuple[str, ...],
    dead: frozenset[str] = frozenset(),
) -> tuple[list[_Command], bool]:
    """The load commands (and whether to sign) so that the table fits the header room.

    The steps of the module docstring, in order, each taken only while the table is still
    too big; a ``RepairError`` with the bytes missing when all of them are not enough.
    """
    e = head.endian
    room = _data_start(cmds, e, head.is64, len(blob)) - head.header_size
    has_sig = any(c.cmd == mo.LC_CODE_SIGNATURE for c in cmds)

    def need() -> int:
        return sum(len(c.raw) for c in cmds) + (_SIG_CMD_SIZE if sign and not has_sig else 0)

    arch = arch_name(head.cputype, head.cpusubtype)
    if need() > room and dead:
        cmds = [c for c in cmds if c.cmd != mo.LC_RPATH or _lc_text(c, e) not in dead]
    if need() > room and sign and not has_sig and arch not in required:
        sign = False
    if need() > room:
        cmds = [c for c in cmds if c.cmd != mo.LC_SOURCE_VERSION]
    if need() > room and head.filetype != mo.MH_EXECUTE:
        cmds = [c for c in cmds if c.cmd != mo.LC_LOAD_DYLINKER]
    if need() > room:
        for c in cmds:
            if c.cmd == mo.LC_BUILD_VERSION and len(c.raw) > 24:
                c.raw = c.raw[:4] + struct.pack(e + "I", 24) + c.raw[8:20] + bytes(4)
    missing = need() - room
    if missing > 0:
        raise RepairError(
            f"{member}: the {arch} slice's load commands need {need()} bytes but only {room} "
            f"fit before the first section: {missing} bytes missing even without "
            "LC_SOURCE_VERSION, LC_LOAD_DYLINKER and build-tool entries; relink it with "
            "-headerpad_max_install_names"
        )
    return cmds, sign


def _lc_text(c: _Command, e: str) -> str:
    (off,) = struct.unpack_from(e + "I", c.raw, 8)
    return c.raw[off:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _write_commands(blob: bytes, head: SliceHeader, cmds: list[_Command]) -> bytes:
    """The slice with ``cmds`` as its load commands and nothing else changed (unsigned)."""
    table = b"".join(c.raw for c in cmds)
    header = bytearray(blob[: head.header_size])
    struct.pack_into(head.endian + "II", header, 16, len(cmds), len(table))
    region = max(head.header_size + head.sizeofcmds, head.header_size + len(table))
    out = bytearray(blob)
    out[:region] = bytes(header) + table.ljust(region - head.header_size, b"\0")
    return bytes(out)


def _data_start(cmds: list[_Command], e: str, is64: bool, size: int) -> int:
    """Where the first section (or non-header segment data) begins: the header's limit."""
    start = size
    seg_fmt, seg_size, sect_size = (e + "16x4Q2i2I", 72, 80) if is64 else (e + "16x4I2i2I", 56, 68)
    for c in cmds:
        if c.cmd not in (mo.LC_SEGMENT, mo.LC_SEGMENT_64):
            continue
        _, _, fileoff, filesize, _, _, nsects, _ = struct.unpack_from(seg_fmt, c.raw, 8)
        if fileoff > 0 and filesize > 0:
            start = min(start, fileoff)
        for k in range(nsects):
            at = seg_size + k * sect_size
            if at + sect_size > len(c.raw):
                break
            if is64:
                size_, offset, _, _, _, flags = struct.unpack_from(e + "QIIIII", c.raw, at + 40)
            else:
                size_, offset, _, _, _, flags = struct.unpack_from(e + "IIIIII", c.raw, at + 36)
            if offset > 0 and size_ > 0 and flags & 0xFF not in _ZEROFILL:
                start = min(start, offset)
    return start


def _sign(member: str, blob: bytes, head: SliceHeader, cmds: list[_Command], ident: str) -> bytes:
    """The slice with ``cmds`` as its load commands and a fresh ad-hoc signature."""
    e, is64 = head.endian, head.is64
    seg_fmt = e + "16s4Q" if is64 else e + "16s4I"
    segs: dict[str, int] = {}
    for i, c in enumerate(cmds):
        if c.cmd in (mo.LC_SEGMENT, mo.LC_SEGMENT_64):
            segs[c.raw[8:24].split(b"\0", 1)[0].decode("ascii", "replace")] = i
    if "__LINKEDIT" not in segs or "__TEXT" not in segs:
        raise RepairError(f"{member}: no __TEXT or __LINKEDIT segment to sign")
    link = cmds[segs["__LINKEDIT"]]
    _, l_vmaddr, l_vmsize, l_fileoff, l_filesize = struct.unpack_from(seg_fmt, link.raw, 8)
    _, _, _, t_fileoff, t_filesize = struct.unpack_from(seg_fmt, cmds[segs["__TEXT"]].raw, 8)
    sig_cmd = next((c for c in cmds if c.cmd == mo.LC_CODE_SIGNATURE), None)
    if sig_cmd is not None:
        code_limit = struct.unpack_from(e + "I", sig_cmd.raw, 8)[0]
    else:
        code_limit = _align(l_fileoff + l_filesize, _SIG_ALIGN)
        sig_cmd = _Command(
            mo.LC_CODE_SIGNATURE, struct.pack(e + "IIII", mo.LC_CODE_SIGNATURE, 16, 0, 0)
        )
        cmds.append(sig_cmd)
    if not l_fileoff <= code_limit <= len(blob) + _SIG_ALIGN:
        raise RepairError(f"{member}: the code signature is not at the end of __LINKEDIT")
    datasize = _align(codesign.signature_size(code_limit, ident), _SIG_ALIGN)
    sig_cmd.raw = struct.pack(e + "IIII", mo.LC_CODE_SIGNATURE, 16, code_limit, datasize)
    page = 0x4000 if head.cputype == _ARM64 else 0x1000
    filesize = code_limit + datasize - l_fileoff
    vmsize = max(l_vmsize, _align(filesize, page))
    fields = struct.pack(e + ("QQQQ" if is64 else "IIII"), l_vmaddr, vmsize, l_fileoff, filesize)
    link.raw = link.raw[:24] + fields + link.raw[24 + len(fields) :]

    table = b"".join(c.raw for c in cmds)
    limit = _data_start(cmds, e, is64, len(blob))
    if head.header_size + len(table) > limit:
        raise RepairError(
            f"{member}: the {len(cmds)} load commands need {len(table)} bytes but only "
            f"{limit - head.header_size} fit before the first section (offset {limit}); "
            "relink it with -headerpad_max_install_names"
        )
    header = bytearray(blob[: head.header_size])
    struct.pack_into(e + "II", header, 16, len(cmds), len(table))
    old_end = head.header_size + head.sizeofcmds
    # The new table, zero-filled over whatever the old one covered beyond it.
    region = max(old_end, head.header_size + len(table))
    code = bytearray(blob[:code_limit].ljust(code_limit, b"\0"))
    code[:region] = bytes(header) + table.ljust(region - head.header_size, b"\0")
    signature = codesign.build_signature(
        bytes(code), ident, t_fileoff, t_filesize, head.filetype == mo.MH_EXECUTE
    )
    return bytes(code) + signature.ljust(datasize, b"\0")
