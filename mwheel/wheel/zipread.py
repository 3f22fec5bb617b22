"""The zip layer under ``WheelArchive``: one open handle, checked headers, bounded inflation.

APPNOTE.TXT (PKWARE's zip specification) describes every member twice: in its local
header and in the central directory. Installers read the central directory; ``unzip``
and some others walk the local headers. A member whose two descriptions differ is read
differently by different tools, and members whose compressed ranges overlap let a small
file expand without bound (the overlapping-entry zip bomb). So before any member is
inflated, every local header is read and compared with its central entry (name,
flags that change the meaning of the bytes, method, CRC and sizes), and the byte ranges
of all members must be disjoint and lie before the central directory.

The input is opened once, must be a regular file (not a FIFO, a device or a directory),
and is read with ``os.pread`` only (on Windows, which has none: seek and read under a
lock): threads and forked workers share the one handle without sharing a file position,
and every byte audited and copied comes from the same open file, whatever happens to the
path meanwhile.
"""

from __future__ import annotations

import io
import itertools
import os
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mwheel.errors import InputError, WheelError
from mwheel.wheel.inflate import Deflate, for_size

CHUNK = 1 << 20
# Compressed bytes handed to the inflater per call. Small input blocks with a generous
# output limit: when the limit cuts a call short, the inflater copies the rest of its input
# into ``unconsumed_tail``, so 1 MB of input cut into 1 MB outputs cost ISA-L 20 % more on
# pyarrow than 256 KB blocks that rarely reach the limit (and 256 KB outputs cost 2x).
IN_BLOCK = 256 << 10
# The most one inflate call may produce (and hold): the memory bound for any member.
OUT_LIMIT = 4 << 20
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_DESCRIPTOR_SIG = b"PK\x07\x08"
# General-purpose flag bits whose disagreement changes how a member is read: encryption,
# data descriptor, UTF-8 name. (Bits 1-2 only record the deflate effort.)
_MEANINGFUL_FLAGS = 0x0001 | 0x0008 | 0x0800
_ZIP64_EXTRA = 0x0001


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One central-directory entry, checked against its local header."""

    name: str
    raw_name: bytes
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int  # first byte of the compressed data
    end: int  # one past the last byte of the member (data descriptor included)
    date_time: tuple[int, int, int, int, int, int]
    external_attr: int
    create_system: int
    is_dir: bool


# O_NONBLOCK: opening a FIFO must not wait for a writer (POSIX only; Windows has no FIFOs
# that os.open would block on).
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SEEK_LOCK = threading.Lock()


def _pread_seek(fd: int, size: int, offset: int) -> bytes:
    """``os.pread`` where the OS has none (Windows): seek and read under one lock."""
    with _SEEK_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


pread: Callable[[int, int, int], bytes] = getattr(os, "pread", _pread_seek)


def open_regular(path: str | os.PathLike[str], label: str) -> int:
    """An fd on ``path`` if it is a regular file; a FIFO or a device never blocks the open."""
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a wheel file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"{path}: is {kind}; a wheel must be a regular file")
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return fd


# More entries than any real wheel has (the largest on PyPI hold tens of thousands); each
# costs about a kilobyte once parsed, so the bound is also the memory bound of the index.
MAX_ENTRIES = 100_000
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIG = b"PK\x05\x06"


def declared_entries(fd: int, size: int) -> int | None:
    """The entry count the end-of-central-directory record declares (ZIP64-aware).

    Read before zipfile builds its index, so that a file declaring millions of entries is
    refused before any of them is held. None when no record is found (zipfile says why).
    """
    tail_start = max(size - (_EOCD.size + 0xFFFF), 0)
    tail = pread(fd, size - tail_start, tail_start)
    at = tail.rfind(_EOCD_SIG)
    while at >= 0 and at + _EOCD.size > len(tail):
        at = tail.rfind(_EOCD_SIG, 0, at)
    if at < 0:
        return None
    entries = int(_EOCD.unpack_from(tail, at)[4])
    if entries == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        record = int.from_bytes(tail[at - 12 : at - 4], "little")
        zip64 = pread(fd, 40, record) if record < size else b""
        if len(zip64) == 40 and zip64[:4] == b"PK\x06\x06":
            entries = int.from_bytes(zip64[32:40], "little")
    return entries


class PreadFile(io.RawIOBase):
    """A read-only, seekable view of an fd with its own position (reads use ``pread``)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), max(self._size - self._pos, 0))
        data = pread(self._fd, want, self._pos) if want else b""
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def pread_exact(fd: int, size: int, offset: int, label: str, what: str) -> bytes:
    data = pread(fd, size, offset)
    if len(data) != size:
        raise WheelError(f"{label}: {what} lies beyond the end of the archive")
    return data


def check_local_headers(
    fd: int, infos: list[zipfile.ZipInfo], cd_start: int, label: str
) -> list[ZipEntry]:
    """Every entry checked against its local header; ranges disjoint and before ``cd_start``."""
    entries: list[ZipEntry] = []
    for info in infos:
        entries.append(_check_one(fd, info, cd_start, label))
    spans = sorted((e.header_offset, e.end, e.name) for e in entries)
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            raise WheelError(
                f"{label}: members {name} and {other} share compressed bytes "
                "(overlapping entries: a zip bomb?)"
            )
    return entries


def _check_one(fd: int, info: zipfile.ZipInfo, cd_start: int, label: str) -> ZipEntry:
    name = info.orig_filename
    if info.header_offset < 0 or info.header_offset + _LOCAL.size > cd_start:
        raise WheelError(f"{label}: member {name} starts outside the archive's data")
    expected = name.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    # One read for the header, the name and a typical extra field; a second only if longer.
    head = pread(fd, _LOCAL.size + len(expected) + 64, info.header_offset)
    if len(head) < _LOCAL.size:
        raise WheelError(f"{label}: member {name} lies beyond the end of the archive")
    sig, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = _LOCAL.unpack_from(head)
    if sig != _LOCAL_SIG:
        raise WheelError(f"{label}: member {name} has no local header where the index says")
    rest = head[_LOCAL.size : _LOCAL.size + name_len + extra_len]
    if len(rest) < name_len + extra_len:
        rest = pread_exact(
            fd, name_len + extra_len, info.header_offset + _LOCAL.size, label, f"member {name}"
        )
    raw_name = rest[:name_len]
    problem = None
    if raw_name != expected:
        problem = f"its local header names it {raw_name.decode('utf-8', 'replace')!r}"
    elif (flags ^ info.flag_bits) & _MEANINGFUL_FLAGS:
        problem = f"local flags {flags:#06x} differ from the index's {info.flag_bits:#06x}"
    elif method != info.compress_type:
        problem = f"local compression method {method} differs from the index's"
    if problem:
        raise WheelError(f"{label}: member {name}: {problem}")
    data_offset = info.header_offset + _LOCAL.size + name_len + extra_len
    end = data_offset + info.compress_size
    if end > cd_start:  # before any read past the data (sizes may be near 2**64)
        raise WheelError(f"{label}: member {name} runs past the start of the central directory")
    if info.flag_bits & 0x8:
        end = _check_descriptor(fd, info, end, cd_start, label)
    else:
        usize, csize = _zip64_sizes(rest[name_len:], usize, csize)
        if (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
            raise WheelError(
                f"{label}: member {name}: local header (crc {crc:08x}, {csize}/{usize} bytes) "
                f"differs from the index (crc {info.CRC:08x}, "
                f"{info.compress_size}/{info.file_size} bytes)"
            )
    if end > cd_start:
        raise WheelError(f"{label}: member {name} runs past the start of the central directory")
    return ZipEntry(
        name=name,
        raw_name=raw_name,
        method=method,
        flags=info.flag_bits,
        crc=info.CRC,
        compressed_size=info.compress_size,
        size=info.file_size,
        header_offset=info.header_offset,
        data_offset=data_offset,
        end=end,
        date_time=info.date_time,
        external_attr=info.external_attr,
        create_system=info.create_system,
        is_dir=name.endswith("/"),
    )


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    """Sizes a local header defers to its ZIP64 extra field (0xFFFFFFFF in the header)."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if kind == _ZIP64_EXTRA:
            values = [int.from_bytes(body[i : i + 8], "little") for i in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
        pos += 4 + length
    return usize, csize


def _check_descriptor(
    fd: int, info: zipfile.ZipInfo, data_end: int, cd_start: int, label: str
) -> int:
    """The data descriptor after a streamed member must repeat the index's CRC and sizes."""
    name = info.orig_filename
    wide = info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
    raw = pread(fd, 24, data_end)
    offset = 4 if raw[:4] == _DESCRIPTOR_SIG else 0
    fmt = "<IQQ" if wide else "<III"
    length = offset + struct.calcsize(fmt)
    if len(raw) < length or data_end + length > cd_start:
        raise WheelError(f"{label}: member {name}: data descriptor missing")
    crc, csize, usize = struct.unpack_from(fmt, raw, offset)
    if (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
        raise WheelError(f"{label}: member {name}: data descriptor differs from the index")
    return data_end + length


def inflate(
    fd: int,
    entry: ZipEntry,
    label: str,
    first: int = CHUNK,
    chunk: int = CHUNK,
    impl: Deflate | None = None,
) -> Iterator[bytes]:
    """The member's bytes in blocks of at most ``chunk`` (the first at most ``first``).

    The output never exceeds the declared size, whatever the compressed bytes say, and
    the CRC is checked at the end. ``impl``: the deflate implementation (tests compare;
    by default chosen by the member's size).
    """
    name = entry.name
    if impl is None:
        impl = for_size(entry.compressed_size)
    crc = 0
    produced = 0
    remaining = entry.compressed_size
    pos = entry.data_offset
    crc32 = impl.crc32
    if entry.method == zipfile.ZIP_STORED:
        if entry.compressed_size != entry.size:
            raise WheelError(f"{label}: member {name} is stored with two different sizes")
        want = first
        while remaining:
            data = pread(fd, min(want, remaining), pos)
            if not data:
                raise WheelError(f"{label}: member {name} is truncated")
            pos += len(data)
            remaining -= len(data)
            crc = crc32(data, crc)
            produced += len(data)
            yield data
            want = chunk
    elif entry.method == zipfile.ZIP_DEFLATED:
        d = impl.decompressobj(-15)
        want = first
        pending = b""
        while True:
            if not pending and remaining:
                pending = pread(fd, min(IN_BLOCK, remaining), pos)
                if not pending:
                    raise WheelError(f"{label}: member {name} is truncated")
                pos += len(pending)
                remaining -= len(pending)
            try:
                data = d.decompress(pending, want)
            except zlib.error as exc:
                raise WheelError(f"{label}: member {name} is corrupt: {exc}") from None
            except Exception as exc:  # isal raises its own IsalError (a subclass of OSError)
                raise WheelError(f"{label}: member {name} is corrupt: {exc}") from None
            pending = d.unconsumed_tail
            if data:
                produced += len(data)
                if produced > entry.size:
                    raise WheelError(
                        f"{label}: member {name} inflates past its declared {entry.size} bytes"
                    )
                crc = crc32(data, crc)
                yield data
                want = chunk
            elif d.eof or (not pending and not remaining):
                break
        if not d.eof:
            raise WheelError(f"{label}: member {name} is truncated (deflate stream unfinished)")
    else:
        raise WheelError(
            f"{label}: member {name} uses compression method {entry.method} "
            "(wheels use stored or deflate)"
        )
    if produced != entry.size:
        raise WheelError(
            f"{label}: member {name} inflates to {produced} bytes, the index says {entry.size}"
        )
    if crc != entry.crc:
        raise WheelError(f"{label}: member {name} fails its CRC check")


def raw_blocks(fd: int, entry: ZipEntry, label: str) -> Iterator[bytes]:
    """The member's compressed bytes, as stored (for copying without recompressing)."""
    pos, remaining = entry.data_offset, entry.compressed_size
    while remaining:
        data = pread(fd, min(CHUNK, remaining), pos)
        if not data:
            raise WheelError(f"{label}: input ended inside {entry.name}")
        pos += len(data)
        remaining -= len(data)
        yield data
