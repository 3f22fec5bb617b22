"""What a distribution ships, from the RECORD of its wheel on an index (``--index-url``).

Only when the user names an index: mwheel makes no network call by default. The index is
asked through the JSON simple API (PEP 691); of the newest version's wheels for the target
operating system, only the RECORD is read, with HTTP range requests (the zip's end record,
its central directory, then the one member), so a 700 MB CUDA wheel costs three small
requests. Each RECORD read is cached (``providers.cached_record``) under the file's hash.
"""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.parse
import urllib.request
import zlib

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from mwheel.errors import InputError

_TAIL = 65536
_LIMIT = 64 << 20  # a RECORD (or central directory) beyond this is hostile, not a wheel
_OS_FAMILIES = {
    "linux": ("manylinux", "musllinux", "linux"),
    "macos": ("macosx",),
    "windows": ("win",),
    "android": ("android",),
    "ios": ("ios",),
}


def _get(url: str, byte_range: str | None = None, accept: str | None = None) -> bytes:
    headers = {"User-Agent": "mwheel"}
    if byte_range:
        headers["Range"] = f"bytes={byte_range}"
    if accept:
        headers["Accept"] = accept
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
            if byte_range and r.status != 206:
                raise InputError(f"{url}: the server does not answer range requests")
            data: bytes = r.read()
            return data
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError(f"{url}: {exc}") from None


def _remote_record(url: str) -> str:
    """The text of the ``*.dist-info/RECORD`` member of the remote wheel at ``url``."""
    try:
        return _read_remote_record(url)
    except (struct.error, UnicodeError, zlib.error) as exc:
        raise InputError(f"{url}: not a readable wheel ({exc})") from None


def _read_remote_record(url: str) -> str:
    tail = _get(url, f"-{_TAIL}")
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0 or len(tail) < eocd + 22:
        raise InputError(f"{url}: no zip end record (zip64 wheels are not read remotely)")
    cd_size, cd_offset = struct.unpack_from("<II", tail, eocd + 12)
    if cd_size > _LIMIT:
        raise InputError(f"{url}: central directory of {cd_size} bytes, refused")
    central = _get(url, f"{cd_offset}-{cd_offset + cd_size - 1}")
    pos = 0
    while pos + 46 <= len(central) and central[pos : pos + 4] == b"PK\x01\x02":
        method, _, _, _, csize, _, nlen, xlen, clen = struct.unpack_from(
            "<HHHIIIHHH", central, pos + 10
        )
        (offset,) = struct.unpack_from("<I", central, pos + 42)
        name = central[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        pos += 46 + nlen + xlen + clen
        top, _, rest = name.partition("/")
        if top.endswith(".dist-info") and rest == "RECORD":
            if csize > _LIMIT:
                raise InputError(f"{url}: RECORD of {csize} compressed bytes, refused")
            local = _get(url, f"{offset}-{offset + 30 + 4096 + csize}")
            lnlen, lxlen = struct.unpack_from("<HH", local, 26)
            body = local[30 + lnlen + lxlen : 30 + lnlen + lxlen + csize]
            if method == 8:
                inflater = zlib.decompressobj(-15)
                body = inflater.decompress(body, _LIMIT)
                if inflater.unconsumed_tail:
                    raise InputError(f"{url}: RECORD inflates past {_LIMIT} bytes, refused")
            return body.decode("utf-8", "replace")
    raise InputError(f"{url}: no RECORD in the wheel's central directory")


def _wheel_files(index_url: str, dist: str, target_os: str) -> list[tuple[str, str, str]]:
    """(file name, url, cache key) of the newest version's wheels for ``target_os``."""
    page = urllib.parse.urljoin(index_url.rstrip("/") + "/", f"{dist}/")
    try:
        files = json.loads(_get(page, accept="application/vnd.pypi.simple.v1+json"))["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{page}: not a PEP 691 JSON page: {exc}") from None
    families = _OS_FAMILIES.get(target_os, ())
    by_version: dict[Version, list[tuple[str, str, str]]] = {}
    for f in files:
        name = str(f.get("filename", ""))
        if not name.endswith(".whl") or f.get("yanked"):
            continue
        try:
            _, version, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        platforms = {t.platform for t in tags}
        if not any(p == "any" or p.startswith(families) for p in platforms):
            continue
        url = urllib.parse.urljoin(page, str(f["url"]))
        digest = (f.get("hashes") or {}).get("sha256")
        key = f"index:sha256:{digest}" if digest else f"index:url:{url}"
        by_version.setdefault(version, []).append((name, url, key))
    if not by_version:
        return []
    return by_version[max(by_version)]


def index_libraries(index_url: str, dist: str, target_os: str) -> list[tuple[str, str]]:
    """(wheel file name, install path) of each library the newest wheels of ``dist`` ship."""
    from mwheel.audit.providers import cached_record, shipped_from_record

    out: list[tuple[str, str]] = []
    for name, url, key in _wheel_files(index_url, dist, target_os):
        paths = cached_record(key, lambda url=url: shipped_from_record(_remote_record(url)))
        out += [(name, p) for p in paths]
    return out
