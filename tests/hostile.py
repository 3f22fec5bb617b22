"""Hostile and broken variants of a good wheel, generated in the tests (nothing committed)."""

from __future__ import annotations

import hashlib
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

from fixturelib.wheels import wheel_members

Members = list[tuple[str, bytes]]


def write_zip(dest: Path, members: Members, *, symlink: str | None = None) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the cases
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o120777 if name == symlink else 0o100644
            info.external_attr = mode << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return dest


def record_for(members: Members, record_name: str) -> bytes:
    import base64

    lines = []
    for name, data in members:
        if name == record_name:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return ("\n".join(lines) + "\n").encode()


def variant(
    good: Path,
    dest: Path,
    change: Callable[[Members], Members],
    *,
    rerecord: bool = True,
    symlink: str | None = None,
) -> Path:
    """``good`` with ``change`` applied to its members, RECORD recomputed unless told not."""
    members = list(wheel_members(good).items())
    members = change(members)
    record = next((n for n, _ in members if n.endswith(".dist-info/RECORD")), None)
    if rerecord and record:
        members = [(n, record_for(members, record) if n == record else d) for n, d in members]
    return write_zip(dest, members, symlink=symlink)


def set_declared_size(path: Path, member: str, size: int) -> None:
    """Patch the central directory so ``member`` claims ``size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    pos = data.find(b"PK\x01\x02" + b"")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into("<I", data, pos + 24, size)
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def _local_header_offset(data: bytes, member: str) -> int:
    """Offset of ``member``'s local header, taken from the central directory."""
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == member.encode():
            return int(struct.unpack_from("<I", data, pos + 42)[0])
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise LookupError(member)


def patch_local_header(path: Path, member: str, field: str, value: int | bytes) -> None:
    """Make ``member``'s local header disagree with the central directory in one field."""
    data = bytearray(path.read_bytes())
    at = _local_header_offset(bytes(data), member)
    offsets = {"flags": (6, "<H"), "crc": (14, "<I"), "csize": (18, "<I"), "usize": (22, "<I")}
    if field == "name":
        assert isinstance(value, bytes)
        name_len = struct.unpack_from("<H", data, at + 26)[0]
        assert len(value) == name_len
        data[at + 30 : at + 30 + name_len] = value
    else:
        off, fmt = offsets[field]
        struct.pack_into(fmt, data, at + off, value)
    path.write_bytes(bytes(data))


def overlapping_bomb(good: Path, dest: Path, copies: int, kernel_size: int) -> Path:
    """``good`` plus ``copies`` members that share one deflated kernel of ``kernel_size`` zeros.

    The overlapping-entry construction: member i's compressed data is a stored deflate
    block quoting member i+1's local header, followed by member i+1's compressed data, and
    the last member's data is the kernel. Every member is valid deflate with a true CRC,
    size and RECORD hash, yet the file holds the kernel once: a few KB that declare
    ``copies * kernel_size`` bytes.
    """
    import base64
    import zlib

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    members = wheel_members(good)
    record = next(n for n in members if n.endswith(".dist-info/RECORD"))
    names = [f"mwfix_clean/bomb{i:04d}.bin".encode() for i in range(copies)]
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = comp.compress(bytes(kernel_size)) + comp.flush()

    def local(name: bytes, crc: int, csize: int, usize: int) -> bytes:
        return (
            struct.pack(
                "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, csize, usize, len(name), 0
            )
            + name
        )

    def central(name: bytes, crc: int, csize: int, usize: int, offset: int) -> bytes:
        return struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02", 0x031E, 20, 0, 8, 0, 0x21, crc, csize, usize,
            len(name), 0, 0, 0, 0, 0o100644 << 16, offset,
        ) + name  # fmt: skip

    # Work backwards: each member's content is the next member's header + its content.
    headers: list[bytes] = [b""] * copies
    compressed_len = len(kernel)
    content_prefix = b""  # the headers member i's content starts with
    sizes: list[tuple[int, int, int, str]] = [(0, 0, 0, "")] * copies
    for i in reversed(range(copies)):
        usize = len(content_prefix) + kernel_size
        content_crc = zlib.crc32(bytes(kernel_size), zlib.crc32(content_prefix))
        digest = hashlib.sha256(content_prefix)
        digest.update(bytes(kernel_size))
        hash_text = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        headers[i] = local(names[i], content_crc, compressed_len, usize)
        sizes[i] = (content_crc, compressed_len, usize, hash_text)
        quote = headers[i]
        stored = b"\x00" + struct.pack("<HH", len(quote), 0xFFFF ^ len(quote))
        compressed_len += len(stored) + len(quote)
        content_prefix = quote + content_prefix
    rows = [f"{n},sha256={b64(d)},{len(d)}" for n, d in members.items() if n != record]
    rows += [f"{n.decode()},sha256={h},{u}" for n, (_, _, u, h) in zip(names, sizes, strict=True)]
    rows.append(f"{record},,")
    members[record] = ("\n".join(rows) + "\n").encode()
    return _write_overlapped(dest, members, names, headers, sizes, kernel, local, central)


def _write_overlapped(
    dest: Path,
    members: dict[str, bytes],
    names: list[bytes],
    headers: list[bytes],
    sizes: list[tuple[int, int, int, str]],
    kernel: bytes,
    local: Callable[[bytes, int, int, int], bytes],
    central: Callable[[bytes, int, int, int, int], bytes],
) -> Path:
    import zlib

    out = bytearray()
    index = bytearray()
    count = 0
    for n, d in members.items():
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = c.compress(d) + c.flush()
        index += central(n.encode(), zlib.crc32(d), len(packed), len(d), len(out))
        out += local(n.encode(), zlib.crc32(d), len(packed), len(d)) + packed
        count += 1
    # header_0 [stored-block prefix] header_1 [prefix] header_2 ... header_n-1 kernel:
    # each header is written once and read both as a header and as quoted data.
    for i, name in enumerate(names):
        crc, csize, usize, _ = sizes[i]
        index += central(name, crc, csize, usize, len(out))
        count += 1
        out += headers[i]
        if i + 1 < len(names):
            quote = headers[i + 1]
            out += b"\x00" + struct.pack("<HH", len(quote), 0xFFFF ^ len(quote))
            # header i+1 follows: it is member i's quoted data and member i+1's header.
    out += kernel
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(index), len(out), 0)
    dest.write_bytes(bytes(out + index + end))
    return dest


def many_entries(dest: Path, count: int) -> Path:
    """A zip of ``count`` empty stored members (real entries, a real index), built directly."""
    local = bytearray()
    index = bytearray()
    for i in range(count):
        name = b"m/%07d" % i
        offset = len(local)
        local += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0
        )
        local += name
        index += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02", 0x031E, 20, 0, 0, 0, 0x21, 0, 0, 0,
            len(name), 0, 0, 0, 0, 0o100644 << 16, offset,
        ) + name  # fmt: skip
    if count < 0xFFFF:
        end = struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(index), len(local), 0
        )
        dest.write_bytes(bytes(local + index + end))
        return dest
    zip64_at = len(local) + len(index)
    zip64 = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(index), len(local)
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, zip64_at, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    dest.write_bytes(bytes(local + index + zip64 + locator + end))
    return dest
