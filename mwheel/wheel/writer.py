"""Writing a wheel: atomic, deterministic, unchanged members copied without recompressing.

The new wheel is written into a hidden scratch directory beside its destination and renamed
into place only when complete (and, for repairs, audited), so a crash or SIGKILL never
leaves a partial file under the final name. Unchanged members are copied as their
compressed bytes; only new or edited members are compressed. Times come from
SOURCE_DATE_EPOCH when set, otherwise from the input members, so the same input gives the
same bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import BinaryIO

from mwheel.errors import OutputError
from mwheel.wheel.record import RecordEntry, record_entry_for, render_record

SCRATCH_PREFIX = ".mwheel-tmp-"
_STALE_AFTER = 3600.0
_LOCAL_HEADER = 30
DEFAULT_COMPRESSLEVEL = 6


def source_date() -> tuple[int, int, int, int, int, int] | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        stamp = max(int(epoch), 315532800)  # zip cannot store dates before 1980
    except ValueError:
        return None
    return time.gmtime(stamp)[:6]


def clean_stale_scratch(directory: Path) -> None:
    """Remove scratch directories left by killed runs (older than an hour, or dead pid)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(SCRATCH_PREFIX):
            continue
        pid_text = entry.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        alive = pid_text.isdigit() and _pid_alive(int(pid_text))
        try:
            old = now - entry.stat().st_mtime > _STALE_AFTER
        except OSError:
            continue
        if not alive or old:
            shutil.rmtree(entry, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Pending:
    name: str
    entry: RecordEntry


class WheelWriter:
    """Builds a wheel at ``dest``; call ``commit()`` to move it into place, ``abort()`` not to.

    Use as a context manager: leaving the block without ``commit()`` aborts.
    """

    def __init__(
        self,
        dest: Path,
        *,
        compresslevel: int | None = None,
        default_date: tuple[int, int, int, int, int, int] | None = None,
    ) -> None:
        self.dest = Path(dest)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_scratch(self.dest.parent)
        try:
            self.scratch = Path(
                tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=self.dest.parent)
            )
        except OSError as exc:
            raise OutputError(f"{self.dest.parent}: cannot write here: {exc}") from None
        self.path = self.scratch / self.dest.name
        self.compresslevel = DEFAULT_COMPRESSLEVEL if compresslevel is None else compresslevel
        self.fixed_date = source_date()
        self.default_date = self.fixed_date or default_date or (1980, 1, 1, 0, 0, 0)
        self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED)
        self._records: list[RecordEntry] = []
        self._names: set[str] = set()
        self._done = False

    def __enter__(self) -> WheelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.abort()

    def _date(
        self, original: tuple[int, int, int, int, int, int] | None
    ) -> tuple[int, int, int, int, int, int]:
        return self.fixed_date or original or self.default_date

    def _claim(self, name: str) -> None:
        if name in self._names:
            raise OutputError(f"{self.dest.name}: member {name} written twice")
        self._names.add(name)

    def add_bytes(
        self,
        name: str,
        data: bytes,
        *,
        mode: int = 0o644,
        date: tuple[int, int, int, int, int, int] | None = None,
    ) -> None:
        self._claim(name)
        info = zipfile.ZipInfo(name, date_time=self._date(date))
        info.external_attr = (0o100000 | (mode & 0o7777)) << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        try:
            self._zip.writestr(info, data, compresslevel=self.compresslevel)
        except OSError as exc:
            raise OutputError(f"{self.dest.name}: cannot write {name}: {exc}") from None
        self._records.append(record_entry_for(name, data))

    def copy_raw(self, source: BinaryIO, info: zipfile.ZipInfo, entry: RecordEntry) -> None:
        """Copy a member's compressed bytes from ``source`` (the input wheel's file object).

        ``entry`` is the member's RECORD line, already checked against its bytes by the audit.
        """
        self._claim(info.filename)
        source.seek(info.header_offset)
        header = source.read(_LOCAL_HEADER)
        if len(header) < _LOCAL_HEADER or header[:4] != b"PK\x03\x04":
            raise OutputError(f"{self.dest.name}: bad local header for {info.filename}")
        name_len = int.from_bytes(header[26:28], "little")
        extra_len = int.from_bytes(header[28:30], "little")
        source.seek(info.header_offset + _LOCAL_HEADER + name_len + extra_len)
        new = zipfile.ZipInfo(info.filename, date_time=self._date(info.date_time))
        new.compress_type = info.compress_type
        new.CRC = info.CRC
        new.compress_size = info.compress_size
        new.file_size = info.file_size
        new.external_attr = info.external_attr
        new.create_system = info.create_system
        new.flag_bits = info.flag_bits & 0x800  # keep UTF-8 names, drop data descriptors
        zf = self._zip
        fp = zf.fp
        assert fp is not None
        new.header_offset = fp.tell()
        zip64 = new.file_size > zipfile.ZIP64_LIMIT or new.compress_size > zipfile.ZIP64_LIMIT
        fp.write(new.FileHeader(zip64))
        remaining = info.compress_size
        while remaining:
            block = source.read(min(remaining, 1 << 20))
            if not block:
                raise OutputError(f"{self.dest.name}: input ended inside {info.filename}")
            fp.write(block)
            remaining -= len(block)
        zf.filelist.append(new)
        zf.NameToInfo[new.filename] = new
        zf.start_dir = fp.tell()
        zf._didModify = True  # type: ignore[attr-defined]
        self._records.append(
            RecordEntry(info.filename, entry.algorithm, entry.digest, info.file_size)
        )

    def finish(self, dist_info: str) -> Path:
        """Write RECORD (last member) and close the zip; the result is at ``self.path``."""
        record_path = f"{dist_info}/RECORD"
        self._claim(record_path)
        info = zipfile.ZipInfo(record_path, date_time=self._date(None))
        info.external_attr = 0o100644 << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(
            info, render_record(self._records, record_path), compresslevel=self.compresslevel
        )
        self._zip.close()
        return self.path

    def commit(self, target: Path | None = None) -> Path:
        """Rename the finished wheel into place (atomic on one file system)."""
        final = Path(target or self.dest)
        try:
            os.replace(self.path, final)
        except OSError as exc:
            self.abort()
            raise OutputError(f"{final}: cannot move the new wheel into place: {exc}") from None
        self._done = True
        shutil.rmtree(self.scratch, ignore_errors=True)
        return final

    def abort(self) -> None:
        self._done = True
        with contextlib.suppress(OSError, ValueError):
            self._zip.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def rewrite_wheel_file(text: str, tags: list[str], generator: str | None = None) -> bytes:
    """WHEEL with its Tag lines replaced; every other header kept in order."""
    msg: Message = HeaderParser().parsestr(text)
    del msg["Tag"]
    if generator is not None:
        del msg["Generator"]
        msg["Generator"] = generator
    for tag in tags:
        msg["Tag"] = tag
    lines = [f"{k}: {v}" for k, v in msg.items()]
    return ("\n".join(lines) + "\n\n").encode("utf-8")
