"""Compile tiny C/C++ fixtures at test time, through a content-addressed cache.

Why a cache: the test suite needs real ELF objects (extension modules, private
shared libraries, executables) built by real toolchains, but building them on
every run would make the suite slow, and cross builds with zig are slow the
first time. Every output is therefore stored under a directory named by the
SHA-256 of everything that determines it (compiler version, arguments, source
bytes, bytes of the private libraries linked), so a second session rebuilds
nothing and a changed input can never be served a stale object.

Why atomic renames: pytest-xdist workers may ask for the same object at the
same moment. Each build happens in its own temporary directory and is moved
into place with one ``rename``; whoever loses the race throws its copy away.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Compiler = Literal["gcc", "g++", "zig"]

_CXX_SUFFIXES = frozenset({".cc", ".cpp", ".cxx", ".C"})
# Bump to invalidate every cached object when the way argv is built changes in
# a way the argv itself would not reveal.
_CACHE_FORMAT = 1


class CompileError(RuntimeError):
    """A fixture failed to compile; carries the compiler's own words.

    Why: a fixture build failure in a test is almost always an environment
    problem (missing -dev package, missing zig); the stderr says which.
    """

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(
            f"fixture compilation failed (exit {returncode}): {' '.join(argv)}\n{stderr}"
        )


def cache_root() -> Path:
    """Return the root of the fixture cache.

    Why an environment variable: CI and developers may want the cache on a
    particular disk, or a throw-away one for a clean-room run.
    """
    env = os.environ.get("MWHEEL_FIXTURE_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "mwheel-fixtures"
    return root.expanduser().resolve()


def _zig_env(root: Path) -> dict[str, str]:
    """Point zig's caches under our cache root.

    Why: zig's own cache is lock-protected and safe to share between parallel
    workers, but by default it lands in ``~/.cache/zig`` and in the current
    directory; keeping it beside our objects makes the whole cache one
    directory that can be kept or wiped together.
    """
    return {
        "ZIG_GLOBAL_CACHE_DIR": str(root / "zig-global-cache"),
        "ZIG_LOCAL_CACHE_DIR": str(root / "zig-local-cache"),
    }


def _driver(compiler: Compiler, cxx: bool) -> list[str]:
    """Return the argv prefix that runs ``compiler``."""
    if compiler == "zig":
        return [sys.executable, "-m", "ziglang", "c++" if cxx else "cc"]
    if compiler in ("gcc", "g++"):
        return [compiler]
    raise ValueError(f"unknown compiler {compiler!r}")


@functools.cache
def compiler_version(compiler: Compiler) -> str:
    """Return the compiler's self-reported version, part of every cache key.

    Why: an upgraded gcc or zig may produce different code or symbol
    versions, so objects built by the old one must not be reused.
    """
    argv = _driver(compiler, False)
    argv = [*argv[:-1], "version"] if compiler == "zig" else [*argv, "--version"]
    env = {**os.environ, **_zig_env(cache_root())} if compiler == "zig" else None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise CompileError(argv, 127, f"compiler not found: {exc}") from exc
    if proc.returncode != 0:
        raise CompileError(argv, proc.returncode, proc.stderr)
    return proc.stdout.strip()


def _find_linked_library(name: str, lib_dirs: Sequence[Path]) -> Path | None:
    """Find the file ``-l<name>`` resolves to within ``lib_dirs``, if any.

    Why: a private library's bytes are part of the cache key of whatever
    links it (a rebuilt library with a different SONAME or symbols must
    invalidate its users); system libraries outside ``lib_dirs`` are not.
    """
    candidates = [name[1:]] if name.startswith(":") else [f"lib{name}.so", f"lib{name}.a"]
    for directory in lib_dirs:
        for candidate in candidates:
            path = Path(directory) / candidate
            if path.is_file():
                return path
    return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compile_c(
    sources: Sequence[Path],
    output: str | os.PathLike[str],
    *,
    compiler: Compiler,
    target: str | None = None,
    shared: bool = True,
    include_python: bool = True,
    libs: Sequence[str] = (),
    lib_dirs: Sequence[Path] = (),
    rpath: Sequence[str] = (),
    runpath: bool = True,
    soname: str | None = None,
    extra_args: Sequence[str] = (),
) -> Path:
    """Compile and link ``sources`` into ``output`` (a bare file name); return its cached path.

    ``compiler`` is ``"gcc"``/``"g++"`` (host toolchain, ``target`` must be
    None) or ``"zig"`` (``zig cc``/``zig c++``, chosen by the sources'
    suffixes, with ``-target target`` when given). ``shared`` builds a shared
    object, otherwise an executable. ``rpath`` entries become DT_RUNPATH, or
    DT_RPATH when ``runpath`` is False. The returned file lives in
    ``<cache_root>/<sha256>/<output>`` and must be treated as read-only:
    copy it before modifying it.

    Why sources are copied into the build directory and compiled by relative
    name: the cache key, ``__FILE__`` and any debug paths then do not depend
    on where the checkout lives, so two worktrees share one cache.
    """
    name = os.fspath(output)
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"output must be a bare file name, not {name!r}")
    if not sources:
        raise ValueError("no sources given")
    if target is not None and compiler != "zig":
        raise ValueError(f"{compiler} builds for the host only; use compiler='zig' for {target}")
    source_paths = [Path(s).resolve() for s in sources]
    basenames = [p.name for p in source_paths]
    if len(set(basenames)) != len(basenames):
        raise ValueError(f"source file names must be distinct: {basenames}")
    cxx = compiler == "g++" or any(p.suffix in _CXX_SUFFIXES for p in source_paths)

    args: list[str] = []
    if target is not None:
        args += ["-target", target]
    # -O2 also keeps zig from its Debug default, which links a UBSan runtime.
    args += ["-O2", "-fPIC"]
    if shared:
        args.append("-shared")
    args += ["-o", name, *basenames]
    if include_python:
        args += ["-I", sysconfig.get_paths()["include"]]
    args += [f"-L{Path(d).resolve()}" for d in lib_dirs]
    args += [f"-l{lib}" for lib in libs]
    if rpath:
        args += [f"-Wl,-rpath,{entry}" for entry in rpath]
        # Explicit either way: distributions disagree on the linker's default.
        args.append("-Wl,--enable-new-dtags" if runpath else "-Wl,--disable-new-dtags")
    if soname is not None:
        args.append(f"-Wl,-soname,{soname}")
    args += list(extra_args)

    linked: dict[str, str | None] = {}
    for lib in libs:
        found = _find_linked_library(lib, lib_dirs)
        linked[lib] = _digest(found.read_bytes()) if found is not None else None
    key_material = {
        "format": _CACHE_FORMAT,
        "compiler": compiler,
        "cxx": cxx,
        "version": compiler_version(compiler),
        "python": sys.version if include_python else None,
        "args": args,
        "sources": [[p.name, _digest(p.read_bytes())] for p in source_paths],
        "linked": linked,
    }
    key = _digest(json.dumps(key_material, sort_keys=True).encode())

    root = cache_root()
    final_dir = root / key
    final = final_dir / name
    if final.is_file():
        return final

    tmp_parent = root / "tmp"
    tmp_parent.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix="build-", dir=tmp_parent))
    try:
        for path in source_paths:
            shutil.copyfile(path, build_dir / path.name)
        argv = [*_driver(compiler, cxx), *args]
        env = dict(os.environ)
        if compiler == "zig":
            env.update(_zig_env(root))
        proc = subprocess.run(
            argv, cwd=build_dir, capture_output=True, text=True, env=env, check=False
        )
        built = build_dir / name
        if proc.returncode != 0 or not built.is_file():
            raise CompileError(argv, proc.returncode, proc.stderr + proc.stdout)
        stage = build_dir / "stage"
        stage.mkdir()
        built.rename(stage / name)
        try:
            stage.rename(final_dir)
        except OSError:
            # Another worker finished the same build first; its result comes
            # from identical inputs, so use it and drop ours.
            if not final.is_file():
                raise
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return final
