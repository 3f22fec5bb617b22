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
import errno
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from mwheel.errors import OutputError
from mwheel.wheel.inflate import best
from mwheel.wheel.record import RecordEntry, record_entry_for, render_record
from mwheel.wheel.zipread import ZipEntry, pread

SCRATCH_PREFIX = ".mwheel-tmp-"
_STALE_AFTER = 3600.0
DEFAULT_COMPRESSLEVEL = 6
# ISA-L's level for new members (grafted libraries, patched binaries, WHEEL). Measured on
# opencv's 35 MB libopenblas (README, "Compression level of new members"): 0.13 s for a
# ratio of 0.297, where zlib 6 takes 1.27 s for 0.264 and zlib 1 0.33 s for 0.312.
FAST_LEVEL = 3


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


def make_scratch(directory: Path) -> Path:
    """A fresh scratch directory in ``directory`` (the output directory), made if need be.

    All of a run's temporary files live here, so a killed run leaves one hidden directory
    that the next run in the same place removes (``clean_stale_scratch``).
    """
    try:
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        clean_stale_scratch(directory)
        return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=directory))
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        raise OutputError(
            f"{directory}: cannot write the output here: {exc.strerror or exc} ({code})"
        ) from None


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
        self.scratch = make_scratch(self.dest.parent)
        self.path = self.scratch / self.dest.name
        self.compresslevel = DEFAULT_COMPRESSLEVEL if compresslevel is None else compresslevel
        # Without an explicit level, new members are deflated by ISA-L when it is in use;
        # a level given by the user (-z) is a zlib level and zlib honours it exactly.
        fast = best() if compresslevel is None else None
        self._fast = fast if fast is not None and fast.name != "zlib" else None
        self.fixed_date = source_date()
        self.default_date = self.fixed_date or default_date or (1980, 1, 1, 0, 0, 0)
        try:
            self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED)
        except OSError as exc:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise self._io_error("cannot create the wheel", exc) from None
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
        if self._fast is not None:
            # ISA-L at FAST_LEVEL: the same members, deflated ten times faster (README).
            packer = self._fast.compressobj(FAST_LEVEL, zlib.DEFLATED, -15)
            packed = packer.compress(data) + packer.flush()
            info.CRC = zlib.crc32(data)
            info.compress_size = len(packed)
            info.file_size = len(data)
            self._write_member(info, [packed])
        else:
            try:
                self._zip.writestr(info, data, compresslevel=self.compresslevel)
            except OSError as exc:
                raise self._io_error(f"cannot write {name}", exc) from None
        self._records.append(record_entry_for(name, data))

    def copy_raw(self, entry: ZipEntry, blocks: Iterable[bytes], record: RecordEntry) -> None:
        """Copy a member's compressed bytes (``blocks``, from the input's one open handle).

        ``entry`` was checked against its local header when the input was opened, and
        ``record`` is the member's RECORD row, checked against its bytes by the audit (or
        computed from them when the input's RECORD omitted the member).
        """
        self._claim(entry.name)
        new = zipfile.ZipInfo(entry.name, date_time=self._date(entry.date_time))
        new.compress_type = entry.method
        new.CRC = entry.crc
        new.compress_size = entry.compressed_size
        new.file_size = entry.size
        new.external_attr = entry.external_attr
        new.create_system = entry.create_system
        new.flag_bits = entry.flags & 0x800  # keep UTF-8 names, drop data descriptors
        self._write_member(new, blocks)
        self._records.append(RecordEntry(entry.name, record.algorithm, record.digest, entry.size))

    def _write_member(self, info: zipfile.ZipInfo, blocks: Iterable[bytes]) -> None:
        """A local header from ``info``, then ``blocks`` (already compressed) as its data."""
        zf = self._zip
        fp = zf.fp
        assert fp is not None
        try:
            info.header_offset = fp.tell()
            zip64 = info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT
            fp.write(info.FileHeader(zip64))
            written = 0
            for block in blocks:
                fp.write(block)
                written += len(block)
        except OSError as exc:
            raise self._io_error(f"cannot write {info.filename}", exc) from None
        if written != info.compress_size:
            raise OutputError(f"{self.dest.name}: input ended inside {info.filename}")
        zf.filelist.append(info)
        zf.NameToInfo[info.filename] = info
        zf.start_dir = fp.tell()
        zf._didModify = True  # type: ignore[attr-defined]

    def _io_error(self, what: str, exc: OSError) -> OutputError:
        """One line naming the output and the OS error (ENOSPC, EIO, EDQUOT...)."""
        code = errno.errorcode.get(exc.errno or 0, "")
        return OutputError(f"{self.dest}: {what}: {exc.strerror or exc} ({code})")

    def finish(self, dist_info: str) -> Path:
        """Write RECORD (last member) and close the zip; the result is at ``self.path``."""
        record_path = f"{dist_info}/RECORD"
        self._claim(record_path)
        info = zipfile.ZipInfo(record_path, date_time=self._date(None))
        info.external_attr = 0o100644 << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        try:
            self._zip.writestr(
                info, render_record(self._records, record_path), compresslevel=self.compresslevel
            )
            self._zip.close()
        except OSError as exc:
            raise self._io_error("cannot finish the wheel", exc) from None
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


def copy_verbatim(fd: int, final: Path, check: Callable[[], None] | None = None) -> Path:
    """Copy the open file ``fd`` to ``final`` byte for byte, atomically.

    The copy is staged in a scratch directory beside ``final`` (removed by a later run if
    this one is killed) and ``check`` (the input's has-it-changed test) runs before the
    rename. Errors become one-line ``OutputError``s naming ``final``.
    """
    scratch = make_scratch(final.parent)
    staged = scratch / final.name
    try:
        with open(staged, "wb") as out:
            offset = 0
            while block := pread(fd, 1 << 20, offset):
                out.write(block)
                offset += len(block)
        if check is not None:
            check()
        os.replace(staged, final)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        raise OutputError(
            f"{final}: cannot write the copy: {exc.strerror or exc} ({code})"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


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
