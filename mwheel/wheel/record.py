"""RECORD files (PEP 376 / PEP 427): parsed once, checked against bytes, written back."""

from __future__ import annotations

import base64
import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mwheel.errors import WheelError

# Algorithms PEP 427 allows in RECORD; md5 and sha1 are refused by installers.
_ALLOWED_ALGORITHMS = {
    "sha256",
    "sha384",
    "sha512",
    "sha3_256",
    "sha3_384",
    "sha3_512",
    "blake2b",
    "blake2s",
    "sha224",
}


def urlsafe_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class RecordEntry:
    path: str
    algorithm: str | None
    digest: str | None
    size: int | None

    def row(self) -> list[str]:
        h = f"{self.algorithm}={self.digest}" if self.algorithm else ""
        return [self.path, h, "" if self.size is None else str(self.size)]

    def new_hasher(self) -> hashlib._Hash | None:
        return hashlib.new(self.algorithm) if self.algorithm else None


def parse_record(text: str, where: str) -> dict[str, RecordEntry]:
    """Parse a whole RECORD; ``where`` names the wheel for error messages."""
    entries: dict[str, RecordEntry] = {}
    for entry in iter_record(io.StringIO(text), where):
        if entry.path in entries:
            raise WheelError(f"{where}: RECORD lists {entry.path} twice")
        entries[entry.path] = entry
    return entries


def iter_record(lines: Iterable[str], where: str) -> Iterator[RecordEntry]:
    """RECORD rows one at a time, so a caller can refuse a hostile RECORD at its first bad row
    instead of holding millions of rows first."""
    try:
        for row in csv.reader(lines):
            if not row:
                continue
            yield _entry(row, where)
    except csv.Error as exc:
        raise WheelError(f"{where}: RECORD is not valid CSV: {exc}") from None


def text_lines(blocks: Iterable[bytes], what: str) -> Iterator[str]:
    """Lines of UTF-8 text from byte blocks, decoded incrementally (never held whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail = ""
    try:
        for block in blocks:
            lines = (tail + decoder.decode(block)).splitlines(keepends=True)
            tail = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            yield from lines
        tail += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise WheelError(f"{what} is not UTF-8 text") from None
    if tail:
        yield tail


def _entry(row: list[str], where: str) -> RecordEntry:
    if len(row) != 3:
        raise WheelError(f"{where}: RECORD has a row of {len(row)} fields, expected 3: {row[0]!r}")
    path, hash_field, size_field = row
    algorithm = digest = None
    if hash_field:
        algorithm, sep, digest = hash_field.partition("=")
        if not sep or algorithm not in _ALLOWED_ALGORITHMS:
            raise WheelError(f"{where}: RECORD row {path!r}: unusable hash {hash_field[:40]!r}")
    try:
        size = int(size_field) if size_field else None
    except ValueError:
        raise WheelError(f"{where}: RECORD row {path!r}: bad size {size_field[:40]!r}") from None
    return RecordEntry(path, algorithm, digest, size)


def record_entry_for(path: str, data: bytes) -> RecordEntry:
    return RecordEntry(path, "sha256", urlsafe_digest(hashlib.sha256(data).digest()), len(data))


def render_record(entries: list[RecordEntry], record_path: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for entry in entries:
        writer.writerow(entry.row())
    writer.writerow([record_path, "", ""])
    return out.getvalue().encode("utf-8")
