"""abi3 wheel fixtures, built from ``fixtures/abi3`` at test time, for ELF, Mach-O and PE.

Each recipe compiles one extension module and wraps it in a wheel tagged ``cp3X-abi3``:
``bad`` (cp37-abi3) imports symbols outside the limited API or too new for 3.7, ``clean``
(cp38-abi3) keeps the promise, ``python311-dll`` is ``clean`` linked against the versioned
``python311.dll`` (PE only), ``abi3t`` is ``clean`` tagged ``cp315-abi3.abi3t`` (PEP 803).

Toolchains: the host gcc for ELF; ``zig cc -target aarch64-macos.11.0`` for Mach-O, linked
with ``-undefined dynamic_lookup`` because an extension never links libpython on macOS: its
Python symbols are bound by the interpreter that loads it; ``zig cc -target
x86_64-windows-gnu`` for PE, linked against an import library that ``zig dlltool`` makes
from ``fixtures/abi3/python3.def``, so the DLL imports name python3.dll exactly as a real
abi3 extension's do, with no Windows Python installed.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .build import CompileError, cache_root, compile_c, compiler_version
from .wheels import make_wheel

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "abi3"

Platform = Literal["elf", "macho", "pe"]
PLATFORMS: tuple[Platform, ...] = ("elf", "macho", "pe")
RECIPES = ("bad", "clean", "python311-dll", "abi3t")

ZIG_MACOS = "aarch64-macos.11.0"
ZIG_WINDOWS = "x86_64-windows-gnu"
_PLATFORM_TAG: dict[Platform, str] = {
    "elf": f"linux_{platform.machine()}",
    "macho": "macosx_11_0_arm64",
    "pe": "win_amd64",
}
_SUFFIX: dict[Platform, str] = {"elf": ".abi3.so", "macho": ".abi3.so", "pe": ".pyd"}
_TAGS = {
    "bad": "cp37-abi3",
    "clean": "cp38-abi3",
    "python311-dll": "cp38-abi3",
    "abi3t": "cp315-abi3.abi3t",
}


@dataclass(frozen=True)
class Abi3Fixture:
    """A built abi3 wheel: ``extension`` is the member name of its extension module."""

    wheel: Path
    extension: str
    platform: Platform
    tag: str


def import_library(dll: str) -> Path:
    """An import library (``lib<stem>.dll.a``) for ``dll``, from ``python3.def``; cached.

    Why dlltool and not a real python3.lib: the fixture must build on any host, and the
    import table only needs the DLL name and the symbol names.
    """
    text = (FIXTURES_DIR / "python3.def").read_text()
    text = text.replace("LIBRARY python3.dll", f"LIBRARY {dll}")
    key = hashlib.sha256(f"{compiler_version('zig')}\0{text}".encode()).hexdigest()
    name = f"lib{dll.removesuffix('.dll')}.dll.a"
    final = cache_root() / "implib" / key / name
    if final.is_file():
        return final
    tmp_parent = cache_root() / "tmp"
    tmp_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="implib-", dir=tmp_parent))
    try:
        (work / "python.def").write_text(text)
        stage = work / "stage"
        stage.mkdir()
        argv = [
            sys.executable,
            "-m",
            "ziglang",
            "dlltool",
            "-m",
            "i386:x86-64",
            "-d",
            "python.def",
            "-D",
            dll,
            "-l",
            f"stage/{name}",
        ]
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (stage / name).is_file():
            raise CompileError(argv, proc.returncode, proc.stderr + proc.stdout)
        final.parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            stage.rename(final.parent)
        except OSError:
            if not final.is_file():  # another worker won the race with the same bytes
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _helper_library() -> Path:
    """``libabi3helper.so``: a non-extension library exporting a Py-prefixed function."""
    return compile_c(
        [FIXTURES_DIR / "helper.c"],
        "libabi3helper.so",
        compiler="gcc",
        include_python=False,
        soname="libabi3helper.so",
    )


def build_extension(
    source: str, plat: Platform, dll: str = "python3.dll", helper: bool = False
) -> Path:
    """Compile ``fixtures/abi3/<source>.c`` into an extension module for ``plat``."""
    src = FIXTURES_DIR / f"{source}.c"
    output = f"{source}{_SUFFIX[plat]}"
    if plat == "elf":
        if not helper:
            return compile_c([src], output, compiler="gcc", include_python=False)
        lib = _helper_library()
        return compile_c(
            [src],
            output,
            compiler="gcc",
            include_python=False,
            libs=["abi3helper"],
            lib_dirs=[lib.parent],
            rpath=["$ORIGIN"],
            extra_args=["-DFIXTURE_HELPER"],
        )
    if helper:
        raise ValueError("the helper library is an ELF-only fixture")
    if plat == "macho":
        return compile_c(
            [src],
            output,
            compiler="zig",
            target=ZIG_MACOS,
            include_python=False,
            extra_args=["-undefined", "dynamic_lookup"],
        )
    return compile_c(
        [src, import_library(dll)], output, compiler="zig", target=ZIG_WINDOWS, include_python=False
    )


def build_abi3_fixture(recipe: str, plat: Platform, dest_dir: Path) -> Abi3Fixture:
    """Build ``recipe`` (one of ``RECIPES``) for ``plat`` into a wheel in ``dest_dir``."""
    if recipe not in _TAGS:
        raise KeyError(f"unknown abi3 fixture {recipe!r}; known: {', '.join(RECIPES)}")
    if recipe == "python311-dll" and plat != "pe":
        raise ValueError("python311-dll is a Windows-only fixture")
    source = "bad" if recipe == "bad" else "clean"
    helper = recipe == "clean" and plat == "elf"
    ext = build_extension(
        source, plat, "python311.dll" if recipe == "python311-dll" else "python3.dll", helper=helper
    )
    pkg = f"abi3fix_{recipe.replace('-', '_')}"
    member = f"{pkg}/{source}{_SUFFIX[plat]}"
    members: dict[str, bytes | Path] = {
        f"{pkg}/__init__.py": f"from .{source} import *  # noqa: F403\n".encode(),
        member: ext,
    }
    if helper:
        members[f"{pkg}/libabi3helper.so"] = _helper_library()
    tag = f"{_TAGS[recipe]}-{_PLATFORM_TAG[plat]}"
    wheel = make_wheel(dest_dir, pkg, "1.0", tag, members)
    return Abi3Fixture(wheel=wheel, extension=member, platform=plat, tag=tag)
