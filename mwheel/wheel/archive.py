"""Safe, read-only access to a wheel archive (PEP 427), through one open handle.

The wheel is read straight from the zip: nothing is unpacked. Opening validates everything
that could make a later step write outside its target, trust a lie or run out of memory:
member names that escape (``..``, absolute, backslash, drive letters) or alias another
member once normalised as installers do (``pkg/./x``, ``pkg//x``), symlinks, local headers
that disagree with the central directory, overlapping members, absurd declared sizes,
oversized metadata, a missing or unparsable WHEEL/RECORD/METADATA, and tags in the file
name that disagree with WHEEL. RECORD is streamed and refused at its first bad row. Member
contents are checked against RECORD and the zip CRC as they are read (see zipread.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mwheel.errors import WheelError
from mwheel.wheel.filename import (
    InvalidTag,
    InvalidWheelFilename,
    Tag,
    parse_tag,
    parse_wheel_filename,
)
from mwheel.wheel.headers import parse_headers
from mwheel.wheel.names import (
    check_file_dir_clash,
    check_member_name,
    check_same_install_path,
    normalise_dist,
    normalise_member,
)
from mwheel.wheel.pipeline import PIPELINE_MIN_BYTES, pipelined, usable_cpus
from mwheel.wheel.record import RecordEntry, iter_record, text_lines, urlsafe_digest
from mwheel.wheel.zipread import (
    MAX_ENTRIES,
    OUT_LIMIT,
    PreadFile,
    ZipEntry,
    check_local_headers,
    declared_entries,
    inflate,
    open_regular,
    raw_blocks,
)

# A member that declares more than this is refused outright (no real wheel member comes close).
MAX_MEMBER_SIZE = 4 << 30
# Declared total of all members.
MAX_TOTAL_SIZE = 16 << 30
# Above this size a compression ratio above MAX_RATIO is taken for a zip bomb: deflate cannot
# exceed ~1032:1, real binaries stay far below 100:1.
BOMB_MIN_SIZE = 256 << 20
MAX_RATIO = 200
# Metadata read whole (WHEEL) or by installers (METADATA, entry points): real ones are a few
# KB (METADATA with a long description: under 1 MB); anything near these is hostile.
METADATA_LIMITS = {
    "WHEEL": 1 << 20,
    "METADATA": 32 << 20,
    "entry_points.txt": 4 << 20,
    "RECORD.jws": 1 << 20,
    "RECORD.p7s": 1 << 20,
}
# RECORD has one row per member: a name (quoted at worst: twice its length), a hash (at
# most ``sha512=`` and 86 base64 characters) and a size. A RECORD larger than that bound
# plus some slack for blank lines is refused before a byte of it is inflated.
RECORD_ROW_OVERHEAD = 160
RECORD_SLACK = 64 << 10
SIGNATURES = ("RECORD.jws", "RECORD.p7s")

# Errors that zipfile raises for damaged archives while reading the central directory.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    KeyError,
    IndexError,
    UnicodeDecodeError,
)


@dataclass(frozen=True, slots=True)
class Member:
    """One regular file of the wheel, as the central directory describes it."""

    name: str
    size: int
    compressed_size: int
    mode: int  # unix permission bits, 0 where the zip carries none

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


class WheelArchive:
    """An open, validated wheel. Use as a context manager.

    The file is opened once; every later read (audit, raw copy by a repair, the
    workers of a parallel scan) goes through that one handle.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.label = self.path.name
        try:
            self.name, self.version, self.build, self.tags = parse_wheel_filename(self.label)
        except InvalidWheelFilename as exc:
            raise WheelError(f"{self.label}: not a wheel file name: {exc}") from None
        self.fd = open_regular(self.path, self.label)
        self._stat = os.fstat(self.fd)
        try:
            entries = declared_entries(self.fd, self._stat.st_size)
            if entries is not None and entries > MAX_ENTRIES:
                raise WheelError(
                    f"{self.label}: declares {entries} members (at most {MAX_ENTRIES} accepted)"
                )
            try:
                index = zipfile.ZipFile(PreadFile(self.fd, self._stat.st_size))
            except ZIP_ERRORS as exc:
                raise WheelError(f"{self.label}: not a readable zip archive ({exc})") from None
            with index:  # its ZipInfo objects are dropped once checked: half the index's memory
                self._validate(index)
        except BaseException:
            os.close(self.fd)
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def check_unchanged(self) -> None:
        """Refuse if the open file was written to since it was opened (same inode, new bytes).

        A new file renamed over the path is no change: this handle still reads the old
        inode. Unlinking changes its ctime too, so ctime counts only while the link count
        holds (it catches a write whose mtime was then set back).
        """
        now, then = os.fstat(self.fd), self._stat
        if (now.st_size, now.st_mtime_ns) != (then.st_size, then.st_mtime_ns) or (
            now.st_nlink == then.st_nlink and now.st_ctime_ns != then.st_ctime_ns
        ):
            raise WheelError(f"{self.label}: the file changed while it was being read")

    # -- validation --------------------------------------------------------------------

    def _validate(self, index: zipfile.ZipFile) -> None:
        infos = index.infolist()
        total = 0
        for info in infos:
            name = info.orig_filename
            check_member_name(name, self.label)
            # Declared sizes first: refusing a bomb costs nothing, reading its headers might.
            if info.file_size > MAX_MEMBER_SIZE or (
                info.file_size > BOMB_MIN_SIZE
                and info.file_size > MAX_RATIO * max(info.compress_size, 1)
            ):
                raise WheelError(
                    f"{self.label}: member {name} declares {info.file_size} bytes from "
                    f"{info.compress_size} compressed (zip bomb?)"
                )
            total += info.file_size
        if total > MAX_TOTAL_SIZE:
            raise WheelError(f"{self.label}: members declare {total} bytes in all (zip bomb?)")
        entries = check_local_headers(self.fd, infos, index.start_dir, self.label)
        members: dict[str, Member] = {}
        by_name: dict[str, ZipEntry] = {}
        normal: dict[str, str] = {}
        for entry in entries:
            name = entry.name
            mode = (entry.external_attr >> 16) & 0xFFFF
            if entry.create_system == 3 and stat.S_ISLNK(mode):
                raise WheelError(f"{self.label}: member {name} is a symlink")
            key = normalise_member(name)
            if key in normal:
                same = "appears twice" if normal[key] == name else f"aliases {normal[key]}"
                raise WheelError(f"{self.label}: member {name} {same} (installed as {key})")
            normal[key] = name
            if entry.flags & 0x1:
                raise WheelError(f"{self.label}: member {name} is encrypted")
            by_name[name] = entry
            if entry.is_dir:
                continue
            members[name] = Member(
                name,
                entry.size,
                entry.compressed_size,
                mode & 0o7777 if entry.create_system == 3 else 0,
            )
        self._entries = by_name
        self.members = members
        check_file_dir_clash(normal, {normalise_member(n) for n in members}, self.label)

        self.dist_info = self._find_dist_info()
        self.data_dir = self.dist_info[: -len(".dist-info")] + ".data"
        check_same_install_path(members, self.data_dir, self.label)
        for required in ("WHEEL", "RECORD", "METADATA"):
            if f"{self.dist_info}/{required}" not in members:
                raise WheelError(f"{self.label}: {self.dist_info}/{required} is missing")
        for base, limit in METADATA_LIMITS.items():
            m = members.get(f"{self.dist_info}/{base}")
            if m is not None and m.size > limit:
                raise WheelError(
                    f"{self.label}: {m.name} declares {m.size} bytes (at most {limit} accepted)"
                )
        self.wheel_info = self._parse_wheel_file()
        self.record_path = f"{self.dist_info}/RECORD"
        self.signatures = tuple(n for s in SIGNATURES if (n := f"{self.dist_info}/{s}") in members)
        self.record = self._read_record()
        self.unlisted = self._check_record()

    def _find_dist_info(self) -> str:
        tops = {n.split("/", 1)[0] for n in self._entries if "/" in n}
        dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
        if not dist_infos:
            raise WheelError(f"{self.label}: no .dist-info directory")
        wanted = [
            d
            for d in dist_infos
            if normalise_dist(d[: -len(".dist-info")].rsplit("-", 1)[0])
            == normalise_dist(str(self.name))
        ]
        if len(dist_infos) > 1 and len(wanted) != 1:
            raise WheelError(
                f"{self.label}: several .dist-info directories: {', '.join(dist_infos)}"
            )
        return (wanted or dist_infos)[0]

    def _parse_wheel_file(self) -> WheelInfo:
        text = self.read_text(f"{self.dist_info}/WHEEL")
        msg = parse_headers(text)  # not email.parser: its imports cost start-up time
        version = (msg.get("Wheel-Version") or "").strip()
        if not re.fullmatch(r"\d+\.\d+", version):
            raise WheelError(f"{self.label}: WHEEL has no valid Wheel-Version ({version!r})")
        if int(version.split(".")[0]) != 1:
            raise WheelError(f"{self.label}: unsupported Wheel-Version {version}")
        purelib = (msg.get("Root-Is-Purelib") or "false").strip().lower() == "true"
        tags: set[Tag] = set()
        for line in (t.strip() for t in msg.get_all("Tag") or []):
            # A Tag line may be compressed like a file name (maturin <= 1.7 writes
            # ``cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64``): expand it into
            # the set it stands for, as packaging does for file names.
            try:  # not three parts, an empty one, or an interpreter that is no identifier
                tags.update(parse_tag(line))
            except InvalidTag:
                raise WheelError(
                    f"{self.label}: WHEEL has a malformed Tag line {line[:80]!r}"
                ) from None
        # pip selects and installs a wheel by its file name and never reads the Tag lines,
        # so lines that disagree with it are a warning of the audit, not a refusal
        # (auditwheel's own linux_mips64 test wheel says cp311 inside a cp313 file).
        return WheelInfo(
            version=version,
            root_is_purelib=purelib,
            generator=(msg.get("Generator") or "").strip(),
            text=text,
            tag_lines=frozenset(tags),
        )

    def _read_record(self) -> dict[str, RecordEntry]:
        """Stream RECORD, refusing at the first row that names no member or repeats one."""
        bound = RECORD_SLACK + sum(
            2 * len(e.raw_name) + RECORD_ROW_OVERHEAD for e in self._entries.values()
        )
        size = self.members[self.record_path].size
        if size > bound:
            raise WheelError(
                f"{self.label}: RECORD declares {size} bytes, more than {bound} for "
                f"{len(self._entries)} members"
            )
        entries: dict[str, RecordEntry] = {}
        blocks = self._inflate(self.record_path, 64 << 10, 64 << 10)
        for entry in iter_record(text_lines(blocks, f"{self.label}: RECORD"), self.label):
            path = entry.path
            if path in entries:
                raise WheelError(f"{self.label}: RECORD lists {path} twice")
            if path not in self.members and path != self.record_path:
                if path in self._entries:
                    continue  # a directory entry: installers ignore it
                raise WheelError(f"{self.label}: RECORD lists {path}, which is not in the wheel")
            entries[path] = entry
        return entries

    def _check_record(self) -> tuple[str, ...]:
        """Members RECORD does not list: pip installs them, so they are reported, not refused."""
        unlisted: list[str] = []
        for name, member in self.members.items():
            if name == self.record_path or name in self.signatures:
                continue
            entry = self.record.get(name)
            if entry is None:
                unlisted.append(name)
                continue
            if entry.size is not None and entry.size != member.size:
                raise WheelError(
                    f"{self.label}: member {name} is {member.size} bytes, RECORD says {entry.size}"
                )
            if entry.algorithm is None:
                raise WheelError(f"{self.label}: RECORD has no hash for {name}")
        return tuple(unlisted)

    # -- reading ---------------------------------------------------------------------

    def info(self, name: str) -> ZipEntry:
        return self._entries[name]

    def chunks(self, name: str, first: int = OUT_LIMIT, chunk: int = OUT_LIMIT) -> Iterator[bytes]:
        """Yield the member's bytes, checking them against RECORD and the zip CRC at the end."""
        entry = self.record.get(name)
        hasher = entry.new_hasher() if entry else None
        size = 0
        blocks = self._inflate(name, first, chunk)
        if self.members[name].size >= PIPELINE_MIN_BYTES and usable_cpus() > 1:
            blocks = pipelined(blocks)
        for data in blocks:
            size += len(data)
            if hasher:
                hasher.update(data)
            yield data
        if entry is not None and hasher is not None:
            self._compare(entry, hasher.digest(), size)

    def _inflate(self, name: str, first: int, chunk: int) -> Iterator[bytes]:
        entry = self._entries[name]
        if entry.method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            yield from inflate(self.fd, entry, self.label, first, chunk)
            return
        # bzip2 and lzma members (rare, but pip installs them): zipfile's own decoders,
        # still bounded by the declared size, which zipfile checks with the CRC.
        try:
            with (
                zipfile.ZipFile(PreadFile(self.fd, self._stat.st_size)) as index,
                index.open(name) as f,
            ):
                while data := f.read(chunk):
                    yield data
        except ZIP_ERRORS as exc:
            raise WheelError(f"{self.label}: member {name} is corrupt: {exc}") from None

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))

    def read_text(self, name: str) -> str:
        raw = b"".join(self._inflate(name, OUT_LIMIT, OUT_LIMIT))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WheelError(f"{self.label}: {name} is not UTF-8 text") from None

    def raw_blocks(self, name: str) -> Iterator[bytes]:
        """The member's compressed bytes as stored, for a copy without recompressing."""
        return raw_blocks(self.fd, self._entries[name], self.label)

    def record_entry(self, name: str) -> RecordEntry:
        """The member's RECORD row; for a member RECORD omits, one computed from its bytes."""
        entry = self.record.get(name)
        if entry is not None:
            return entry
        h = hashlib.sha256()
        size = 0
        for data in self.chunks(name):
            h.update(data)
            size += len(data)
        return RecordEntry(name, "sha256", urlsafe_digest(h.digest()), size)

    def _compare(self, entry: RecordEntry, digest: bytes, size: int) -> None:
        if entry.size is not None and entry.size != size:
            raise WheelError(
                f"{self.label}: member {entry.path} is {size} bytes, RECORD says {entry.size}"
            )
        if entry.digest is not None and urlsafe_digest(digest) != entry.digest:
            raise WheelError(f"{self.label}: member {entry.path} does not match its RECORD hash")

    def verify(self, name: str, data: bytes) -> None:
        entry = self.record.get(name)
        if entry and entry.algorithm:
            self._compare(entry, hashlib.new(entry.algorithm, data).digest(), len(data))


@dataclass(frozen=True)
class WheelInfo:
    """The parsed WHEEL file."""

    version: str
    root_is_purelib: bool
    generator: str
    text: str
    tag_lines: frozenset[Tag] = frozenset()
