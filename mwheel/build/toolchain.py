"""Checks that the tools a build needs are there, before cargo starts.

A missing piece found by cargo surfaces as twenty lines of linker arguments or a build
script panic; found here, it is one line naming the piece and the fix: cargo itself, the
``ziglang`` package behind ``--zig``, the target's standard library (``rustup target
add``), and a linker for a foreign architecture. The linker is what cargo would use:
``CARGO_TARGET_<TRIPLE>_LINKER``, ``target.<triple>.linker`` in a ``.cargo/config.toml``
on the crate's path or in ``$CARGO_HOME``, else the C compiler the user named for that
target (``CC_<triple>``, ``TARGET_CC``), which mwheel then hands to cargo as the linker.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import tomllib

from mwheel.build.cargo import cargo_program
from mwheel.build.targets import Target
from mwheel.errors import BuildError

# Architectures whose programs the host's own C compiler links (x86_64 hosts link i686
# with -m32 and musl with Rust's self-contained objects).
_HOST_LINKS = {"x86_64": {"x86_64", "i686"}, "aarch64": {"aarch64", "armv7"}}


def env_key(triple: str) -> str:
    return triple.upper().replace("-", "_").replace(".", "_")


def rustc_program() -> str:
    return os.environ.get("RUSTC", "rustc")


def check_cargo() -> None:
    """cargo and rustc are both on PATH (or named by CARGO / RUSTC)."""
    for program, var in ((cargo_program(), "CARGO"), (rustc_program(), "RUSTC")):
        if shutil.which(program) is None and not Path(program).is_file():
            raise BuildError(
                f"{program} not found: install Rust (https://rustup.rs) or set {var} to its path"
            )


def zig_installed() -> bool:
    try:
        return importlib.util.find_spec("ziglang") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["ziglang"] is None
        return False


def check_zig() -> None:
    if not zig_installed():
        raise BuildError("--zig needs the ziglang package: pip install 'mwheel[zig]'")


def _build_std(env: Mapping[str, str]) -> bool:
    """``-Z build-std`` compiles the standard library from source: none needs to be installed."""
    return bool(env.get("CARGO_UNSTABLE_BUILD_STD"))


def check_std(target: Target, env: Mapping[str, str]) -> None:
    """The target's standard library is in rustc's sysroot (or is built with build-std)."""
    if _build_std(env):
        return
    rustc = env.get("RUSTC", rustc_program())
    try:
        sysroot = subprocess.run(
            [rustc, "--print", "sysroot"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"cannot run {rustc} --print sysroot: {exc}") from None
    for triple in target.slices or (target.triple,):
        libdir = Path(sysroot) / "lib" / "rustlib" / triple / "lib"
        if not any(libdir.glob("libcore-*.rlib")):
            raise BuildError(
                f"the Rust standard library for {triple} is not installed in {sysroot}: "
                f"rustup target add {triple}"
            )


def _config_linker(triple: str, start: Path, env: Mapping[str, str]) -> str | None:
    """``target.<triple>.linker`` from the .cargo/config(.toml) files cargo would read."""
    dirs = [start, *start.parents]
    home = env.get("CARGO_HOME") or str(Path.home() / ".cargo")
    candidates = [d / ".cargo" / name for d in dirs for name in ("config.toml", "config")]
    candidates += [Path(home) / "config.toml", Path(home) / "config"]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # cargo reports a broken config itself, with its own words
        linker = data.get("target", {}).get(triple, {}).get("linker")
        if isinstance(linker, str):
            return linker
    return None


def _exists(program: str) -> bool:
    first = program.split()[0] if program.strip() else program
    return shutil.which(first) is not None or Path(first).is_file()


def linker_env(
    target: Target, host: str, crate_dir: Path, env: Mapping[str, str]
) -> dict[str, str]:
    """Environment that gives cargo a linker for ``target``; a BuildError if there is none.

    Nothing is needed when the host's C compiler links the target; a linker the user
    configured must exist; a cross C compiler the user named becomes the linker.
    """
    var = f"CARGO_TARGET_{env_key(target.triple)}_LINKER"
    if var in env:
        if not _exists(env[var]):
            raise BuildError(f"linker {env[var]} ({var}) not found")
        return {}
    if _config_linker(target.triple, crate_dir, env) is not None:
        return {}
    host_arch = host.split("-", 1)[0]
    host_os = "linux" if "-linux-" in host else ("macos" if "-apple-" in host else "windows")
    # Apple's clang links every macOS architecture and cargo finds MSVC's link.exe for
    # every Windows one; on Linux the host's cc links only its own architecture family.
    cross = target.os != host_os or (
        host_os == "linux" and target.rust_arch not in _HOST_LINKS.get(host_arch, {host_arch})
    )
    cc_vars = [f"CC_{target.triple}", f"CC_{target.triple.replace('-', '_')}", "TARGET_CC"]
    cc_vars += ["CC"] if cross else []
    for cc_var in cc_vars:
        if env.get(cc_var):
            if not _exists(env[cc_var]):
                raise BuildError(f"C compiler {env[cc_var]} ({cc_var}) not found")
            return {var: env[cc_var]} if cross else {}
    if cross:
        raise BuildError(
            f"no linker for {target.triple}: build with --zig (pip install 'mwheel[zig]') "
            f"or set {var} to a cross linker"
        )
    return {}
