"""Named Linux wheel fixtures, built from ``fixtures/linux`` at test time.

Each recipe yields a wheel holding a real CPython 3.11 extension (or
executable) whose dynamic-linking situation is one that a wheel repair tool
must handle: an external private library found by RUNPATH, by DT_RPATH, by
nothing at all; a chain of libraries; a newer glibc than the tag claims;
libstdc++; distro libraries; other architectures and libcs.

Why private libraries are copied into ``dest_dir``: tests repair a wheel and
then move the original library directories away to prove the repaired wheel
is self-contained. The compiled objects themselves live in the shared,
content-addressed cache (see ``build.py``), which tests must never move. So
the cached objects are linked with a long placeholder RUNPATH/RPATH and each
copy placed in ``dest_dir`` has it rewritten, in ``.dynstr``, to the real
absolute directory of the copied libraries. No relinking happens per test,
and every RUNPATH/RPATH of a fixture names an existing directory that really
holds the library.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .build import CompileError, Compiler, compile_c
from .wheels import make_wheel

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "linux"

ZIG_GLIBC_217 = "x86_64-linux-gnu.2.17"
ZIG_MUSL = "x86_64-linux-musl"
ZIG_AARCH64_228 = "aarch64-linux-gnu.2.28"

EXT_SUFFIX_X86_64 = ".cpython-311-x86_64-linux-gnu.so"
EXT_SUFFIX_MUSL = ".cpython-311-x86_64-linux-musl.so"
EXT_SUFFIX_AARCH64 = ".cpython-311-aarch64-linux-gnu.so"

TAG_MANYLINUX2014 = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
TAG_LINUX = "cp311-cp311-linux_x86_64"

VERSION = "1.0"
# Debian packages a recipe needs beyond the compilers (headers and link-time .so files).
NEEDS_SYSTEM_PACKAGES: dict[str, list[str]] = {"system": ["libffi-dev", "libssl-dev"]}
_PLACEHOLDER_LEN = 400


@dataclass(frozen=True)
class LinuxFixture:
    """A built fixture wheel and how to check that it works.

    ``lib_dirs`` are the directories (inside ``dest_dir``) holding the
    private libraries the wheel needs from outside; tests may move them away
    or pass them as a library path. ``call`` is a Python expression to
    evaluate after ``import module``; it must equal ``expected``.
    ``importable`` says whether this host (x86_64 glibc CPython 3.11) can
    import it at all. ``script``/``script_output`` name the wheel's ELF
    script and what it prints, for the "script" recipe.
    """

    wheel: Path
    lib_dirs: list[Path]
    module: str
    call: str
    expected: object
    tag: str
    importable: bool = True
    script: str | None = None
    script_output: str = ""

    @staticmethod
    def names() -> list[str]:
        """Return every recipe name, in registration order."""
        return list(_RECIPES)


_Recipe = Callable[[Path], LinuxFixture]
_RECIPES: dict[str, _Recipe] = {}


def _recipe(name: str) -> Callable[[_Recipe], _Recipe]:
    def register(func: _Recipe) -> _Recipe:
        _RECIPES[name] = func
        return func

    return register


def build_linux_fixture(name: str, dest_dir: Path) -> LinuxFixture:
    """Build recipe ``name``: its wheel and library directories go into ``dest_dir``."""
    try:
        recipe = _RECIPES[name]
    except KeyError:
        raise KeyError(f"unknown Linux fixture {name!r}; known: {', '.join(_RECIPES)}") from None
    dest_dir.mkdir(parents=True, exist_ok=True)
    return recipe(dest_dir.resolve())


# --- helpers ---------------------------------------------------------------


def placeholder(role: str) -> str:
    """Return the stand-in absolute directory linked into cached objects for ``role``.

    Why so long: it is overwritten in place by the real directory, which
    must not be longer.
    """
    head = f"/mwfix-placeholder-{role}-"
    return head + "x" * (_PLACEHOLDER_LEN - len(head) - 1) + "/"


def _dynstr_bounds(data: bytes) -> tuple[int, int]:
    """Return (offset, size) of ``.dynstr`` in a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("only little-endian ELF64 objects are supported")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(index: int) -> tuple[int, int, int, int]:
        name, kind, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + index * shentsize
        )
        return name, kind, offset, size

    _, _, names_off, _ = section(shstrndx)
    for index in range(shnum):
        name, kind, offset, size = section(index)
        end = data.index(b"\0", names_off + name)
        if kind == 3 and data[names_off + name : end] == b".dynstr":
            return offset, size
    raise ValueError("no .dynstr section")


def retarget_paths(data: bytes, mapping: Mapping[str, str]) -> bytes:
    """Replace placeholder directories inside ``.dynstr`` strings, padding with NULs.

    Why only ``.dynstr`` and whole strings: DT_RUNPATH/DT_RPATH are offsets of
    NUL-terminated strings there; rewriting a string in place to a shorter
    one keeps every offset valid, while a blind replace in the whole file
    could corrupt unrelated bytes.
    """
    offset, size = _dynstr_bounds(data)
    out = bytearray(data)
    table = data[offset : offset + size]
    found: set[str] = set()
    start = 0
    while start < len(table):
        end = table.index(b"\0", start)
        text = table[start:end].decode("utf-8", "surrogateescape")
        new = text
        for old, replacement in mapping.items():
            if old in new:
                found.add(old)
                new = new.replace(old, replacement)
        if new != text:
            encoded = new.encode("utf-8", "surrogateescape")
            if len(encoded) > end - start:
                raise ValueError(f"path too long to patch into placeholder: {new!r}")
            out[offset + start : offset + end] = encoded.ljust(end - start, b"\0")
        start = end + 1
    missing = set(mapping) - found
    if missing:
        raise ValueError(f"placeholders not found in .dynstr: {sorted(missing)}")
    return bytes(out)


def _install(cached: Path, dest: Path, mapping: Mapping[str, Path] | None = None) -> Path:
    """Copy a cached object to ``dest`` (mode 0o755), retargeting placeholders.

    Why copies: cached objects are shared by every test and session.
    """
    data = cached.read_bytes()
    if mapping:
        data = retarget_paths(data, {old: str(new) for old, new in mapping.items()})
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(dest)
    return dest


def _src(*names: str) -> list[Path]:
    return [FIXTURES_DIR / name for name in names]


def _package(
    dest_dir: Path,
    pkg: str,
    tag: str,
    ext: Path,
    ext_suffix: str = EXT_SUFFIX_X86_64,
    *,
    root_is_purelib: bool = False,
) -> Path:
    """Wrap one extension as ``<pkg>/_ext<suffix>`` plus an ``__init__`` re-exporting it."""
    members: dict[str, bytes | Path] = {
        f"{pkg}/__init__.py": b"from ._ext import *  # noqa: F403\n",
        f"{pkg}/_ext{ext_suffix}": ext,
    }
    return make_wheel(dest_dir, pkg, VERSION, tag, members, root_is_purelib=root_is_purelib)


def _staged(dest_dir: Path) -> tempfile.TemporaryDirectory[str]:
    """A scratch directory for patched objects before they go into a wheel."""
    return tempfile.TemporaryDirectory(prefix=".stage-", dir=dest_dir)


def _private_lib(source: str, soname: str, *, compiler: Compiler = "zig") -> Path:
    """Build a private shared library with its own SONAME (cached); zig means glibc 2.17."""
    target = ZIG_GLIBC_217 if compiler == "zig" else None
    return compile_c(
        _src(source), soname, compiler=compiler, target=target, include_python=False, soname=soname
    )


def _simple_ext(source: str, *, compiler: Compiler = "zig", target: str = ZIG_GLIBC_217) -> Path:
    """Build a self-contained extension module (cached); ``target`` applies to zig only."""
    return compile_c(
        _src(source), "_ext.so", compiler=compiler, target=target if compiler == "zig" else None
    )


def _ext_with_private_lib(
    dest_dir: Path,
    recipe: str,
    ext_source: str,
    lib_source: str,
    soname: str,
    *,
    lib_dir: Path,
    via: str,
    lib_compiler: Compiler = "zig",
) -> tuple[Path, Path]:
    """Build an extension linking one private library; install the library into ``lib_dir``.

    ``via`` is "runpath", "rpath" (DT_RPATH) or "none". Returns (cached ext,
    installed lib); the ext still carries the placeholder for ``recipe``.
    """
    lib = _private_lib(lib_source, soname, compiler=lib_compiler)
    stem = soname.removeprefix("lib").split(".so")[0]
    ext = compile_c(
        _src(ext_source),
        "_ext.so",
        compiler="zig",
        target=ZIG_GLIBC_217,
        libs=[stem],
        lib_dirs=[lib.parent],
        rpath=[] if via == "none" else [placeholder(recipe)],
        runpath=via != "rpath",
    )
    installed = _install(lib, lib_dir / soname)
    return ext, installed


# --- recipes ---------------------------------------------------------------


@_recipe("clean")
def _clean(dest_dir: Path) -> LinuxFixture:
    """Honest manylinux_2_17: old glibc symbols only, nothing external."""
    ext = _simple_ext("clean.c")
    wheel = _package(dest_dir, "mwfix_clean", TAG_MANYLINUX2014, ext)
    return LinuxFixture(wheel, [], "mwfix_clean", "mwfix_clean.add(2, 3)", 5, TAG_MANYLINUX2014)


@_recipe("newglibc")
def _newglibc(dest_dir: Path) -> LinuxFixture:
    """Dishonest manylinux2014 tag: the extension needs GLIBC_2.36."""
    ext = _simple_ext("newglibc.c", compiler="gcc")
    wheel = _package(dest_dir, "mwfix_newglibc", TAG_MANYLINUX2014, ext)
    return LinuxFixture(wheel, [], "mwfix_newglibc", "mwfix_newglibc.roll(1)", 0, TAG_MANYLINUX2014)


@_recipe("runpath")
def _runpath(dest_dir: Path) -> LinuxFixture:
    """One private library (SONAME libmwprivate.so) found through an absolute RUNPATH."""
    lib_dir = dest_dir / "runpath-libs"
    ext, _ = _ext_with_private_lib(
        dest_dir,
        "runpath",
        "runpath_ext.c",
        "runpath_lib.c",
        "libmwprivate.so",
        lib_dir=lib_dir,
        via="runpath",
    )
    with _staged(dest_dir) as stage:
        ext = _install(ext, Path(stage) / "_ext.so", {placeholder("runpath"): lib_dir})
        wheel = _package(dest_dir, "mwfix_runpath", TAG_LINUX, ext)
    return LinuxFixture(wheel, [lib_dir], "mwfix_runpath", "mwfix_runpath.value()", 42, TAG_LINUX)


@_recipe("cxx")
def _cxx(dest_dir: Path) -> LinuxFixture:
    """A host g++ extension needing libstdc++.so.6 (GLIBCXX/CXXABI versions)."""
    ext = _simple_ext("cxx.cpp", compiler="g++")
    wheel = _package(dest_dir, "mwfix_cxx", TAG_LINUX, ext)
    return LinuxFixture(
        wheel,
        [],
        "mwfix_cxx",
        "(mwfix_cxx.count_words('a bb ccc'), mwfix_cxx.count_words(''))",
        (3, -1),
        TAG_LINUX,
    )


@_recipe("musl")
def _musl(dest_dir: Path) -> LinuxFixture:
    """A musllinux_1_2 extension (musl's libc.so); not importable on this host."""
    tag = "cp311-cp311-musllinux_1_2_x86_64"
    ext = _simple_ext("musl.c", target=ZIG_MUSL)
    wheel = _package(dest_dir, "mwfix_musl", tag, ext, EXT_SUFFIX_MUSL)
    return LinuxFixture(wheel, [], "mwfix_musl", "mwfix_musl.add(2, 3)", 5, tag, importable=False)


@_recipe("aarch64")
def _aarch64(dest_dir: Path) -> LinuxFixture:
    """A cross-built manylinux_2_28_aarch64 extension; not importable on this host."""
    tag = "cp311-cp311-manylinux_2_28_aarch64"
    ext = _simple_ext("aarch64.c", target=ZIG_AARCH64_228)
    wheel = _package(dest_dir, "mwfix_aarch64", tag, ext, EXT_SUFFIX_AARCH64)
    return LinuxFixture(
        wheel, [], "mwfix_aarch64", "mwfix_aarch64.add(2, 3)", 5, tag, importable=False
    )


@_recipe("libpath")
def _libpath(dest_dir: Path) -> LinuxFixture:
    """A private library with no RPATH/RUNPATH: only a library path finds it."""
    lib_dir = dest_dir / "libpath-libs"
    ext, _ = _ext_with_private_lib(
        dest_dir,
        "libpath",
        "libpath_ext.c",
        "libpath_lib.c",
        "libmwpath.so",
        lib_dir=lib_dir,
        via="none",
    )
    wheel = _package(dest_dir, "mwfix_libpath", TAG_LINUX, ext)
    return LinuxFixture(wheel, [lib_dir], "mwfix_libpath", "mwfix_libpath.value()", 7, TAG_LINUX)


@_recipe("chain")
def _chain(dest_dir: Path) -> LinuxFixture:
    """ext -> libmwouter.so -> libmwinner.so, each through its own RUNPATH (distinct dirs)."""
    outer_dir = dest_dir / "chain-libs" / "outer"
    inner_dir = dest_dir / "chain-libs" / "inner"
    inner = _private_lib("chain_inner.c", "libmwinner.so")
    outer = compile_c(
        _src("chain_outer.c"),
        "libmwouter.so",
        compiler="zig",
        target=ZIG_GLIBC_217,
        include_python=False,
        libs=["mwinner"],
        lib_dirs=[inner.parent],
        rpath=[placeholder("chain-inner")],
        soname="libmwouter.so",
    )
    ext = compile_c(
        _src("chain_ext.c"),
        "_ext.so",
        compiler="zig",
        target=ZIG_GLIBC_217,
        libs=["mwouter"],
        lib_dirs=[outer.parent],
        rpath=[placeholder("chain-outer")],
        # The outer library's own RUNPATH is a placeholder; tell the linker
        # where its dependency really is.
        extra_args=[f"-Wl,-rpath-link,{inner.parent}"],
    )
    _install(inner, inner_dir / "libmwinner.so")
    _install(outer, outer_dir / "libmwouter.so", {placeholder("chain-inner"): inner_dir})
    with _staged(dest_dir) as stage:
        ext = _install(ext, Path(stage) / "_ext.so", {placeholder("chain-outer"): outer_dir})
        wheel = _package(dest_dir, "mwfix_chain", TAG_LINUX, ext)
    return LinuxFixture(
        wheel, [outer_dir, inner_dir], "mwfix_chain", "mwfix_chain.value()", 43, TAG_LINUX
    )


@_recipe("absrpath")
def _absrpath(dest_dir: Path) -> LinuxFixture:
    """An absolute DT_RPATH (not RUNPATH) into a build-tree-like directory."""
    lib_dir = dest_dir / "absrpath-src" / "build" / "lib.linux-x86_64-cpython-311"
    ext, _ = _ext_with_private_lib(
        dest_dir,
        "absrpath",
        "absrpath_ext.c",
        "absrpath_lib.c",
        "libmwbuild.so",
        lib_dir=lib_dir,
        via="rpath",
    )
    with _staged(dest_dir) as stage:
        ext = _install(ext, Path(stage) / "_ext.so", {placeholder("absrpath"): lib_dir})
        wheel = _package(dest_dir, "mwfix_absrpath", TAG_LINUX, ext)
    return LinuxFixture(wheel, [lib_dir], "mwfix_absrpath", "mwfix_absrpath.value()", 99, TAG_LINUX)


@_recipe("system")
def _system(dest_dir: Path) -> LinuxFixture:
    """Distro libraries: libffi.so.8, libssl.so.3 and libcrypto.so.3 (needs -dev packages)."""
    try:
        ext = compile_c(_src("system.c"), "_ext.so", compiler="gcc", libs=["ffi", "ssl", "crypto"])
    except CompileError as exc:
        packages = " ".join(NEEDS_SYSTEM_PACKAGES["system"])
        raise CompileError(
            exc.argv, exc.returncode, f"{exc.stderr}\n(hint: apt-get install {packages})"
        ) from exc
    wheel = _package(dest_dir, "mwfix_system", TAG_LINUX, ext)
    # (FFI_OK, first byte of SHA-256(b"abc") = 0xba, SSL_CTX_new succeeded)
    return LinuxFixture(wheel, [], "mwfix_system", "mwfix_system.probe()", (0, 0xBA, 1), TAG_LINUX)


@_recipe("newergraft")
def _newergraft(dest_dir: Path) -> LinuxFixture:
    """An old-glibc extension whose RUNPATH-found private library needs GLIBC_2.36."""
    lib_dir = dest_dir / "newergraft-libs"
    ext, _ = _ext_with_private_lib(
        dest_dir,
        "newergraft",
        "newergraft_ext.c",
        "newergraft_lib.c",
        "libmwnew.so",
        lib_dir=lib_dir,
        via="runpath",
        lib_compiler="gcc",
    )
    with _staged(dest_dir) as stage:
        ext = _install(ext, Path(stage) / "_ext.so", {placeholder("newergraft"): lib_dir})
        wheel = _package(dest_dir, "mwfix_newergraft", TAG_LINUX, ext)
    return LinuxFixture(
        wheel, [lib_dir], "mwfix_newergraft", "mwfix_newergraft.roll(1)", 0, TAG_LINUX
    )


@_recipe("script")
def _script(dest_dir: Path) -> LinuxFixture:
    """An ELF executable in ``.data/scripts`` linking libmwtool.so by absolute RUNPATH."""
    tag = "py3-none-linux_x86_64"
    lib_dir = dest_dir / "script-libs"
    lib = _private_lib("script_lib.c", "libmwtool.so")
    exe = compile_c(
        _src("script_main.c"),
        "mwfix-tool",
        compiler="zig",
        target=ZIG_GLIBC_217,
        shared=False,
        include_python=False,
        libs=["mwtool"],
        lib_dirs=[lib.parent],
        rpath=[placeholder("script")],
    )
    _install(lib, lib_dir / "libmwtool.so")
    with _staged(dest_dir) as stage:
        exe = _install(exe, Path(stage) / "mwfix-tool", {placeholder("script"): lib_dir})
        members: dict[str, bytes | Path] = {
            "mwfix_script/__init__.py": b'"""Pure-Python half of the script fixture."""\n',
            f"mwfix_script-{VERSION}.data/scripts/mwfix-tool": exe,
        }
        wheel = make_wheel(dest_dir, "mwfix_script", VERSION, tag, members)
    return LinuxFixture(
        wheel,
        [lib_dir],
        "mwfix_script",
        "0",
        0,
        tag,
        script="mwfix-tool",
        script_output="mwfix-tool 1234\n",
    )


@_recipe("purelib_binary")
def _purelib_binary(dest_dir: Path) -> LinuxFixture:
    """A Root-Is-Purelib, py3-none-any wheel that nonetheless ships an extension."""
    tag = "py3-none-any"
    ext = _simple_ext("purelib_binary.c")
    wheel = _package(dest_dir, "mwfix_purelib_binary", tag, ext, root_is_purelib=True)
    return LinuxFixture(wheel, [], "mwfix_purelib_binary", "mwfix_purelib_binary.add(2, 3)", 5, tag)


@_recipe("nobinary")
def _nobinary(dest_dir: Path) -> LinuxFixture:
    """A platform-tagged wheel with nothing but Python files."""
    members: dict[str, bytes | Path] = {
        "mwfix_nobinary/__init__.py": b"from .core import VALUE\n",
        "mwfix_nobinary/core.py": b"VALUE = 42\n",
    }
    wheel = make_wheel(
        dest_dir, "mwfix_nobinary", VERSION, TAG_MANYLINUX2014.split(".")[0], members
    )
    return LinuxFixture(
        wheel, [], "mwfix_nobinary", "mwfix_nobinary.VALUE", 42, TAG_MANYLINUX2014.split(".")[0]
    )


__all__ = [
    "FIXTURES_DIR",
    "NEEDS_SYSTEM_PACKAGES",
    "LinuxFixture",
    "build_linux_fixture",
    "placeholder",
    "retarget_paths",
]
