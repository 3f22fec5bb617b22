"""Read every member of a wheel once: check it against RECORD, parse the binaries.

Non-binaries are streamed through the RECORD hash and never held whole; a member is held
in memory only when its first bytes are an ELF, Mach-O or PE magic. Large wheels are
scanned by several threads sharing the archive's one open handle, so the work spreads
over cores while every byte comes from the file that was opened and validated.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Mapping

from mwheel.binary import SNIFF_BYTES, read_binary, sniff
from mwheel.binary.model import Binary
from mwheel.wheel.archive import Member, WheelArchive
from mwheel.wheel.pipeline import usable_cpus

# Below this many bytes of members, starting threads costs more than it saves.
PARALLEL_MIN_BYTES = 48 << 20
# Binaries larger than this are inflated into an unlinked temporary file and mapped, so
# parsing touches only the pages it reads (headers, dynamic section, symbol tables)
# instead of holding the whole library in memory.
SPILL_BYTES = 16 << 20


def scan_members(archive: WheelArchive, names: list[str]) -> dict[str, Binary]:
    """Verify ``names`` against RECORD and parse those that are binaries."""
    binaries: dict[str, Binary] = {}
    for name in names:
        binary = scan_member(archive, name)
        if binary is not None:
            binaries[name] = binary
    return binaries


def scan_member(archive: WheelArchive, name: str) -> Binary | None:
    """One pass over the member: inflate, CRC, RECORD hash and (for a binary) the parse."""
    chunks = archive.chunks(name, first=SNIFF_BYTES)
    first = next(chunks, b"")
    if sniff(first) is None:
        for _ in chunks:  # hash the rest, hold nothing
            pass
        return None
    if archive.members[name].size > SPILL_BYTES:
        return _read_spilled(name, first, chunks)
    return read_binary(name, b"".join([first, *chunks]))  # one copy, not two


def _read_spilled(name: str, first: bytes, rest: Iterator[bytes]) -> Binary:
    import tempfile  # only for binaries this large: tempfile and random stay out of start-up

    with tempfile.TemporaryFile(prefix="mwheel-") as tmp:
        tmp.write(first)
        for chunk in rest:
            tmp.write(chunk)
        tmp.flush()
        with mmap.mmap(tmp.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return read_binary(name, view)


def scan(
    archive: WheelArchive, jobs: int = 0, known: Mapping[str, Binary | None] | None = None
) -> dict[str, Binary]:
    """All binaries of the wheel by member name, in archive order.

    ``known`` maps members already read and verified elsewhere (a repair's raw copies of
    its input's members) to their parse (None: not a binary); they are not read again.
    """
    known = known or {}
    members = [m for m in archive.members.values() if m.name not in known]
    found = _scan_names(archive, members, jobs)
    return {n: b for n in archive.members if (b := found.get(n) or known.get(n)) is not None}


def _scan_names(archive: WheelArchive, members: list[Member], jobs: int) -> dict[str, Binary]:
    names = [m.name for m in members]
    total = sum(m.size for m in members)
    workers = min(jobs or usable_cpus(), 8)
    if workers <= 1 or total < PARALLEL_MIN_BYTES:
        return scan_members(archive, names)
    # Threads, not processes: inflating (ISA-L or zlib), hashing and pread all release the
    # GIL, and every thread reads through the archive's one handle with its own offsets.
    # Largest members first, so that the last to finish is a small one.
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(members, key=lambda m: -m.size)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="mwheel-scan")
    try:
        parsed = list(pool.map(lambda m: scan_member(archive, m.name), order))
    finally:
        # A bad member stops the scan: members not yet started are not read.
        pool.shutdown(wait=True, cancel_futures=True)
    results = {m.name: b for m, b in zip(order, parsed, strict=True) if b is not None}
    return {n: results[n] for n in names if n in results}
