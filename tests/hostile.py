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
