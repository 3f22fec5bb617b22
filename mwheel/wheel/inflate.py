"""The deflate implementation mwheel inflates and compresses with: ISA-L when it works, else zlib.

Inflating members is most of what an audit or a repair costs, and ISA-L (the ``isal``
package, Intel's assembly inflate with wheels for Linux, macOS and Windows on x86-64 and
aarch64) does it in about half the time of the stdlib's zlib on the large wheels the
benchmarks use; zlib-ng was measured too and came second (the figures and the command are
in the README). Deflate is a format, not an implementation: every inflater yields the same
bytes, so the choice changes only the time. The CRC is computed by the same library.

``MWHEEL_INFLATE=zlib`` forces the stdlib (tests compare both paths byte for byte). A
missing or broken ``isal`` (no wheel for the platform, a failing import, a self-test that
does not round-trip) silently gives zlib: the results are identical, only slower.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Decompressor(Protocol):
    """What ``zlib.decompressobj`` returns, and isal's equivalent."""

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Deflate:
    """One implementation: raw-deflate objects and a CRC-32, as zlib spells them."""

    name: str
    decompressobj: Callable[[int], Decompressor]
    compressobj: Callable[[int, int, int], Compressor]
    crc32: Callable[[bytes, int], int]


def _zlib() -> Deflate:
    return Deflate(
        "zlib",
        lambda wbits: zlib.decompressobj(wbits),
        lambda level, method, wbits: zlib.compressobj(level, method, wbits),
        zlib.crc32,
    )


def _isal() -> Deflate | None:
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    impl = Deflate(
        "isal",
        lambda wbits: isal_zlib.decompressobj(wbits),
        lambda level, method, wbits: isal_zlib.compressobj(
            min(level, isal_zlib.ISAL_BEST_COMPRESSION), method, wbits
        ),
        isal_zlib.crc32,
    )
    return impl if _works(impl) else None


def _works(impl: Deflate) -> bool:
    """A round trip through zlib both ways: a broken build must not change a single byte."""
    sample = bytes(range(256)) * 64 + b"mwheel" * 1000
    try:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = c.compress(sample) + c.flush()
        d = impl.decompressobj(-15)
        if d.decompress(packed) != sample or impl.crc32(sample, 0) != zlib.crc32(sample):
            return False
        c2 = impl.compressobj(1, zlib.DEFLATED, -15)
        return zlib.decompress(c2.compress(sample) + c2.flush(), -15) == sample
    except Exception:  # any failure of an optional accelerator means "use zlib"
        return False


def choose(wanted: str | None = None) -> Deflate:
    """The implementation to use: ``wanted`` (or $MWHEEL_INFLATE) if it works, else the best."""
    wanted = wanted if wanted is not None else os.environ.get("MWHEEL_INFLATE", "")
    if wanted == "zlib":
        return _zlib()
    return _isal() or _zlib()


ZLIB = _zlib()

# Below this many compressed bytes a member is inflated by zlib: ISA-L's gain there is
# microseconds, while importing and self-testing it costs milliseconds of start-up that a
# small wheel's audit would otherwise spend (inflated bytes are the same either way).
FAST_FROM = 256 << 10

_chosen: Deflate | None = None


def best() -> Deflate:
    """The implementation for large members and new ones, chosen once, on first use."""
    global _chosen
    if _chosen is None:
        _chosen = choose()
    return _chosen


def for_size(compressed_size: int) -> Deflate:
    """zlib for a small member, the best implementation for a large one."""
    return best() if compressed_size >= FAST_FROM else ZLIB


def __getattr__(name: str) -> Deflate:
    """``DEFLATE``, the chosen implementation, resolved lazily (PEP 562)."""
    if name == "DEFLATE":
        return best()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
