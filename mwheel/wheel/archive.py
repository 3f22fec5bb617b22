"""Safe, read-only access to a wheel archive.

The wheel is read straight from the zip: nothing is unpacked. Opening validates everything
that could make a later step write outside its target or trust a lie: member names that
escape (``..``, absolute, backslash, drive letters), symlink members, duplicate names,
absurd declared sizes (zip bombs), a missing or unparsable WHEEL/RECORD/METADATA, and tags
in the file name that disagree with WHEEL. Member contents are checked against RECORD as
they are read.
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import IO

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from mwheel.errors import WheelError
from mwheel.wheel.record import RecordEntry, parse_record, urlsafe_digest

# A member that declares more than this is refused outright (no real wheel member comes close).
MAX_MEMBER_SIZE = 4 << 30
# Declared total of all members.
MAX_TOTAL_SIZE = 16 << 30
# Above this size a compression ratio above MAX_RATIO is taken for a zip bomb: deflate cannot
# exceed ~1032:1, real binaries stay far below 100:1.
BOMB_MIN_SIZE = 256 << 20
MAX_RATIO = 200
CHUNK = 1 << 20

_DRIVE = re.compile(r"^[A-Za-z]:")
# Errors that zipfile and zlib raise for damaged archives.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    KeyError,
    IndexError,
)


@dataclass(frozen=True)
class Member:
    """One regular file of the wheel, as the central directory describes it."""

    name: str
    size: int
    compressed_size: int
    mode: int  # unix permission bits, 0 where the zip carries none

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


def check_member_name(name: str, where: str) -> None:
    """Refuse names that would land outside the install target (PEP 427 paths are relative)."""
    problem = None
    if not name or "\x00" in name:
        problem = "empty or NUL in name"
    elif "\\" in name:
        problem = "backslash in name"
    elif name.startswith("/"):
        problem = "absolute path"
    elif _DRIVE.match(name):
        problem = "drive letter"
    elif ".." in name.rstrip("/").split("/"):
        problem = "'..' component"
    if problem:
        raise WheelError(f"{where}: hostile member name {name!r}: {problem}")


class WheelArchive:
    """An open, validated wheel. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.label = self.path.name
        try:
            self.name, self.version, self.build, self.tags = parse_wheel_filename(self.label)
        except InvalidWheelFilename as exc:
            raise WheelError(f"{self.label}: not a wheel file name: {exc}") from None
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise WheelError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise WheelError(f"{self.path}: is a directory") from None
        except ZIP_ERRORS as exc:
            raise WheelError(f"{self.label}: not a readable zip archive ({exc})") from None
        try:
            self._validate()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # -- validation --------------------------------------------------------------------

    def _validate(self) -> None:
        members: dict[str, Member] = {}
        infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self._zip.infolist():
            name = info.filename
            check_member_name(name, self.label)
            mode = (info.external_attr >> 16) & 0xFFFF
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise WheelError(f"{self.label}: member {name} is a symlink")
            if name in infos:
                raise WheelError(f"{self.label}: member {name} appears twice")
            if info.flag_bits & 0x1:
                raise WheelError(f"{self.label}: member {name} is encrypted")
            infos[name] = info
            if info.is_dir():
                continue
            if info.file_size > MAX_MEMBER_SIZE or (
                info.file_size > BOMB_MIN_SIZE
                and info.file_size > MAX_RATIO * max(info.compress_size, 1)
            ):
                raise WheelError(
                    f"{self.label}: member {name} declares {info.file_size} bytes from "
                    f"{info.compress_size} compressed (zip bomb?)"
                )
            total += info.file_size
            members[name] = Member(
                name,
                info.file_size,
                info.compress_size,
                mode & 0o7777 if info.create_system == 3 else 0,
            )
        if total > MAX_TOTAL_SIZE:
            raise WheelError(f"{self.label}: members declare {total} bytes in all (zip bomb?)")
        self._infos = infos
        self.members = members

        self.dist_info = self._find_dist_info()
        self.data_dir = self.dist_info[: -len(".dist-info")] + ".data"
        for required in ("WHEEL", "RECORD", "METADATA"):
            if f"{self.dist_info}/{required}" not in members:
                raise WheelError(f"{self.label}: {self.dist_info}/{required} is missing")
        self.wheel_info = self._parse_wheel_file()
        self.record_path = f"{self.dist_info}/RECORD"
        record_text = self.read_text(self.record_path)
        self.record = parse_record(record_text, self.label)
        self._check_record()

    def _find_dist_info(self) -> str:
        tops = {n.split("/", 1)[0] for n in self._infos if "/" in n}
        dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
        if not dist_infos:
            raise WheelError(f"{self.label}: no .dist-info directory")
        wanted = [
            d
            for d in dist_infos
            if _normalise(d[: -len(".dist-info")].rsplit("-", 1)[0]) == _normalise(str(self.name))
        ]
        if len(dist_infos) > 1 and len(wanted) != 1:
            raise WheelError(
                f"{self.label}: several .dist-info directories: {', '.join(dist_infos)}"
            )
        return (wanted or dist_infos)[0]

    def _parse_wheel_file(self) -> WheelInfo:
        text = self.read_text(f"{self.dist_info}/WHEEL")
        msg = HeaderParser().parsestr(text)
        version = (msg.get("Wheel-Version") or "").strip()
        if not re.fullmatch(r"\d+\.\d+", version):
            raise WheelError(f"{self.label}: WHEEL has no valid Wheel-Version ({version!r})")
        if int(version.split(".")[0]) != 1:
            raise WheelError(f"{self.label}: unsupported Wheel-Version {version}")
        purelib = (msg.get("Root-Is-Purelib") or "false").strip().lower() == "true"
        tag_lines = [t.strip() for t in msg.get_all("Tag") or []]
        tags: set[Tag] = set()
        for line in tag_lines:
            parts = line.split("-")
            if len(parts) != 3:
                raise WheelError(f"{self.label}: WHEEL has a malformed Tag line {line!r}")
            tags.add(Tag(*parts))
        if tags and tags != set(self.tags):
            raise WheelError(
                f"{self.label}: the file name's tags disagree with WHEEL's Tag lines "
                f"({', '.join(sorted(map(str, tags)))})"
            )
        return WheelInfo(
            version=version,
            root_is_purelib=purelib,
            generator=(msg.get("Generator") or "").strip(),
            text=text,
        )

    def _check_record(self) -> None:
        for name, member in self.members.items():
            if name == self.record_path or name.endswith(
                (".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")
            ):
                continue
            entry = self.record.get(name)
            if entry is None:
                raise WheelError(f"{self.label}: member {name} is not listed in RECORD")
            if entry.size is not None and entry.size != member.size:
                raise WheelError(
                    f"{self.label}: member {name} is {member.size} bytes, RECORD says {entry.size}"
                )
            if entry.algorithm is None:
                raise WheelError(f"{self.label}: RECORD has no hash for {name}")
        for name in self.record:
            if name not in self.members and name != self.record_path:
                raise WheelError(f"{self.label}: RECORD lists {name}, which is not in the wheel")

    # -- reading ---------------------------------------------------------------------

    def info(self, name: str) -> zipfile.ZipInfo:
        return self._infos[name]

    def open(self, name: str) -> IO[bytes]:
        try:
            return self._zip.open(self._infos[name])
        except ZIP_ERRORS as exc:
            raise WheelError(f"{self.label}: cannot read member {name}: {exc}") from None

    def chunks(self, name: str, first: int = CHUNK) -> Iterator[bytes]:
        """Yield the member's bytes, checking them against RECORD and the zip CRC at the end."""
        entry = self.record.get(name)
        hasher = entry.new_hasher() if entry else None
        size = 0
        try:
            with self._zip.open(self._infos[name]) as f:
                block = first
                while data := f.read(block):
                    size += len(data)
                    if hasher:
                        hasher.update(data)
                    yield data
                    block = CHUNK
        except ZIP_ERRORS as exc:
            raise WheelError(f"{self.label}: member {name} is corrupt: {exc}") from None
        if entry is not None and hasher is not None:
            self._compare(entry, hasher.digest(), size)

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name, first=CHUNK))

    def read_text(self, name: str) -> str:
        try:
            with self._zip.open(self._infos[name]) as f:
                raw = f.read()
        except ZIP_ERRORS as exc:
            raise WheelError(f"{self.label}: cannot read member {name}: {exc}") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WheelError(f"{self.label}: {name} is not UTF-8 text") from None

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


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
