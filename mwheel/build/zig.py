"""Linking through ``zig cc`` so a wheel needs no newer glibc than its manylinux tag allows.

zig ships the headers and symbol maps of every glibc version, so
``zig cc -target x86_64-linux-gnu.2.17`` links against glibc 2.17's symbol versions whatever
the build machine runs. cargo calls a linker program without extra arguments, so mwheel
writes a tiny wrapper script (``CARGO_TARGET_<TRIPLE>_LINKER``, also ``CC_<triple>`` for
build scripts using the cc crate) that re-enters this module, which drops the arguments zig
does not take from rustc and cc and runs ``python -m ziglang cc``.

Rust's standard library needs glibc 2.17 at least, so manylinux2014 is the floor.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from mwheel.build.targets import Target
from mwheel.errors import BuildError
from mwheel.tags import PlatformTag

MIN_GLIBC = (2, 17)


def zig_target(
    target: Target, tag: PlatformTag | None, macos: tuple[int, int] | None = None
) -> str:
    """``x86_64-unknown-linux-gnu`` + manylinux_2_17 -> ``x86_64-linux-gnu.2.17``.

    musl targets link against zig's own musl (1.2); glibc targets against the glibc of
    the manylinux tag, or 2.17 (manylinux2014) when no tag is asked for.
    """
    if target.os == "macos":
        # zig ships macOS's libSystem stubs; the version becomes the binary's minos.
        major, minor = max(macos or (0, 0), target.min_macos or (0, 0))
        return f"{target.zig}.{major}.{minor}"
    if target.triple.endswith("-windows-gnu"):
        return target.zig  # zig ships MinGW's import libraries
    if target.os != "linux" or not target.zig:
        raise BuildError(
            f"--zig: target {target.triple} is not supported (Linux, macOS and *-windows-gnu)"
        )
    if target.is_musl:
        return target.zig
    if tag is not None and tag.family == "manylinux" and tag.version is not None:
        if tag.version < MIN_GLIBC:
            raise BuildError(
                f"--zig: {tag.name} is older than glibc 2.17, the oldest Rust "
                "supports; use manylinux2014 (manylinux_2_17) or later"
            )
        return f"{target.zig}.{tag.version[0]}.{tag.version[1]}"
    return f"{target.zig}.{MIN_GLIBC[0]}.{MIN_GLIBC[1]}"


def write_wrapper(directory: Path, target: str) -> Path:
    """A shell script that runs this module's ``main`` with ``target``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / f"zigcc-{target}.sh"
    body = (
        f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m mwheel.build.zig "
        f'{shlex.quote(target)} "$@"\n'
    )
    script.write_text(body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# MinGW libraries rustc names for *-windows-gnu that zig's MinGW provides by itself (its
# CRT, winpthreads, libssp and libgcc equivalents are linked implicitly).
_MINGW_IMPLICIT = {"-lmsvcrt", "-l:libpthread.a", "-lssp_nonshared", "-lssp", "-lgcc"}


def filter_args(args: Sequence[str], windows: bool = False, macos: bool = False) -> list[str]:
    """Drop what zig cc rejects or must not see (rustc's own lld, cc's --target)."""
    out: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-target", "--target"):
            skip_next = True
            continue
        if arg.startswith(("--target=", "-fuse-ld=", "-B")) or arg == "-nodefaultlibs":
            continue
        if arg == "-lgcc_s" or (windows and arg == "-lgcc_eh"):
            # zig has no libgcc_s; its libunwind provides the same unwinder symbols.
            out.append("-lunwind")
            continue
        if arg.startswith("-Wl,") and "--no-undefined-version" in arg:
            continue
        if windows and (arg in _MINGW_IMPLICIT or arg == "-Wl,--disable-auto-image-base"):
            continue
        if macos and arg == "-liconv":
            # The libc crate names libiconv on Apple targets; zig ships no stub for it, and
            # nothing Rust or pyo3 builds calls it.
            continue
        if windows and arg.endswith(".def") and (arg.startswith("-Wl,") or arg[:1] != "-"):
            # zig cc takes no module-definition file; its MinGW linker exports the
            # library's public symbols by itself (lld's auto-export).
            continue
        out.append(arg)
    return out


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m mwheel.build.zig TARGET [ARGS...]", file=sys.stderr)
        return 2
    target, *args = argv
    if importlib.util.find_spec("ziglang") is None:
        print(
            "mwheel: error: --zig needs the ziglang package: pip install 'mwheel[zig]'",
            file=sys.stderr,
        )
        return 1
    linked = filter_args(args, windows="-windows" in target, macos="-macos" in target)
    if "-musl" in target and not {"-static", "-static-pie", "-shared"} & set(linked):
        # zig links musl programs statically unless told otherwise; rustc asked for a
        # dynamic one (no -static), which loads through musl's ld-musl-<arch>.so.1.
        linked.append("-dynamic")
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", target, *linked]
    os.execv(sys.executable, cmd)
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
