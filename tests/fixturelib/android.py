"""Android wheels (PEP 738) built at test time from ``fixtures/android``.

zig targets ``<arch>-linux-android`` but ships no bionic, so the fixtures link against a
stub NDK sysroot built here: ``libc.so`` with bionic's version nodes (a version script in
the shape of ``libc.map.txt``), ``liblog.so``, ``libaaudio.so``, ``libpython3.13.so`` and a
``libc++_shared.so`` stand-in. ``-nostdlib -nostdinc`` keep zig from looking for a libc it
cannot provide; the stubs are linked by path. The binaries are real ELF files of each ABI's
machine with the version needs an NDK build would give; they do not run on this host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .build import compile_c
from .wheels import make_wheel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "android"
ZIG_TARGETS = {
    "arm64_v8a": "aarch64-linux-android",
    "x86_64": "x86_64-linux-android",
    "armeabi_v7a": "arm-linux-androideabi",
    "x86": "x86-linux-android",
}
_NOLIBC = ["-nostdlib", "-nostdinc", "-w"]


def _stub(abi: str, source: str, soname: str, extra: Sequence[str] = ()) -> Path:
    return compile_c(
        [FIXTURES / source],
        soname,
        compiler="zig",
        target=ZIG_TARGETS[abi],
        include_python=False,
        soname=soname,
        extra_args=[*_NOLIBC, *extra],
    )


@dataclass(frozen=True)
class Sysroot:
    """The stub NDK libraries of one ABI, each in its own cache directory."""

    libc: Path
    liblog: Path
    libaaudio: Path
    libpython: Path
    cxx_shared: Path

    @property
    def cxx_dir(self) -> Path:
        return self.cxx_shared.parent


def sysroot(abi: str) -> Sysroot:
    libc = _stub(
        abi, "libc_stub.c", "libc.so", [f"-Wl,--version-script,{FIXTURES / 'libc.map.txt'}"]
    )
    return Sysroot(
        libc=libc,
        liblog=_stub(abi, "liblog_stub.c", "liblog.so"),
        libaaudio=_stub(abi, "libaaudio_stub.c", "libaaudio.so"),
        libpython=_stub(abi, "libpython_stub.c", "libpython3.13.so"),
        cxx_shared=_stub(abi, "cxx_shared_stub.c", "libc++_shared.so", [str(libc)]),
    )


def extension(abi: str, *uses: str, rpath: Sequence[str] = (), runpath: bool = True) -> Path:
    """``_ext.so`` for ``abi``; ``uses``: P, PRIVATE, CXX, AAUDIO (see ext.c); ``rpath``
    entries as DT_RUNPATH, or DT_RPATH (which bionic ignores) when ``runpath`` is False."""
    root = sysroot(abi)
    linked = [root.libc, root.liblog, root.libpython]
    if "CXX" in uses:
        linked.append(root.cxx_shared)
    if "AAUDIO" in uses:
        linked.append(root.libaaudio)
    return compile_c(
        [FIXTURES / "ext.c"],
        "_ext.so",
        compiler="zig",
        target=ZIG_TARGETS[abi],
        include_python=False,
        rpath=rpath,
        runpath=runpath,
        extra_args=[*_NOLIBC, *(f"-DUSE_{u}" for u in uses), *map(str, linked)],
    )


def android_wheel(
    dest: Path, tag: str, ext: Path, extra: Mapping[str, bytes | Path] | None = None
) -> Path:
    """``mwdroid`` with ``ext`` as ``mwdroid/_ext.cpython-313-<triplet>.so``."""
    members: dict[str, bytes | Path] = {
        "mwdroid/__init__.py": b"from ._ext import *  # noqa: F403\n",
        "mwdroid/_ext.cpython-313-aarch64-linux-android.so": ext,
    }
    members.update(extra or {})
    return make_wheel(dest, "mwdroid", "1.0", f"cp313-cp313-{tag}", members)
