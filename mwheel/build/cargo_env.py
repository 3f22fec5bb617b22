"""The target of a build and the environment cargo runs in for it.

``select_target`` turns ``--target`` (or the host) and ``--compatibility`` into a ``Target``:
asking for a musllinux tag without ``--target`` builds the host architecture's musl target,
as maturin does. ``cargo_env`` gathers what cargo needs for that target, as environment
variables so the user's own cargo configuration still applies:

* ``--zig``: a linker wrapper per triple (``CARGO_TARGET_<TRIPLE>_LINKER`` and ``CC_<triple>``
  for build scripts using the cc crate);
* musl: ``-C target-feature=-crt-static`` (Rust links musl targets statically by default;
  a static file cannot be a shared library Python loads, and a static program names no
  libc, so nothing would tell the audit it is for musl), added to the user's RUSTFLAGS
  rather than replacing them. Programs then load through musl's ``ld-musl-<arch>.so.1``,
  as the programs of a musl distribution do;
* macOS: ``MACOSX_DEPLOYMENT_TARGET`` (the tag's minimum macOS, so rustc's ``minos`` and
  the tag agree), and for an extension module ``-undefined dynamic_lookup`` (its Python
  symbols come from the interpreter that loads it, as maturin links them);
* the linker the user named (``CC_<triple>``), through ``toolchain.linker_env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mwheel.build.options import Compatibility
from mwheel.build.targets import Target
from mwheel.build.toolchain import env_key, linker_env
from mwheel.build.zig import write_wrapper, zig_target
from mwheel.errors import BuildError

_MUSL_DYNAMIC = "-C target-feature=-crt-static"
# A macOS extension module leaves the Python C API to the interpreter that loads it.
_MACOS_EXTENSION = "-C link-arg=-undefined -C link-arg=dynamic_lookup"


def select_target(requested: str | None, host: str, compatibility: tuple[str, ...]) -> Target:
    """``--target`` or the host, switched to musl when a musllinux tag is asked for."""
    wants_musl = any(c.strip().lower().startswith("musllinux") for c in compatibility)
    target = Target.parse(requested or host)
    if wants_musl and not target.is_musl:
        if requested:
            raise BuildError(
                f"--compatibility {compatibility[0]} needs a musl target, not {requested} "
                f"(--target {target.with_musl().triple})"
            )
        target = target.with_musl()
    if target.os != "linux" and compatibility:
        raise BuildError(
            f"--compatibility {compatibility[0]}: manylinux/musllinux tags are for Linux "
            f"targets, not {target.triple}"
        )
    return target


def _add_rustflags(env: dict[str, str], base: Mapping[str, str], triple: str, flags: str) -> None:
    """Append ``flags`` where cargo reads rustflags for ``triple``, keeping the user's."""
    if "CARGO_ENCODED_RUSTFLAGS" in base:
        sep = "\x1f" if base["CARGO_ENCODED_RUSTFLAGS"] else ""
        env["CARGO_ENCODED_RUSTFLAGS"] = (
            base["CARGO_ENCODED_RUSTFLAGS"] + sep + "\x1f".join(flags.split())
        )
    elif "RUSTFLAGS" in base:
        env["RUSTFLAGS"] = f"{base['RUSTFLAGS']} {flags}".strip()
    else:
        var = f"CARGO_TARGET_{env_key(triple)}_RUSTFLAGS"
        env[var] = f"{base.get(var, '')} {flags}".strip()


def cargo_env(
    target: Target,
    host: str,
    compat: Compatibility,
    *,
    zig: bool,
    extension: bool,
    crate_dir: Path,
    wrapper_dir: Path,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Environment variables to add to the user's for ``cargo build`` of ``target``."""
    env = dict(extra)
    base = {**os.environ, **env}
    macos = target.macos_version(base) if target.os == "macos" else None
    for slice_ in [Target.parse(t) for t in target.slices] or [target]:
        if zig:
            wrapper = write_wrapper(wrapper_dir, zig_target(slice_, compat.tag, macos))
            env[f"CARGO_TARGET_{env_key(slice_.triple)}_LINKER"] = str(wrapper)
            env[f"CC_{slice_.triple.replace('-', '_')}"] = str(wrapper)
        else:
            env.update(linker_env(slice_, host, crate_dir, base))
        if slice_.is_musl:
            _add_rustflags(env, base, slice_.triple, _MUSL_DYNAMIC)
        if slice_.os == "macos" and extension:
            _add_rustflags(env, base, slice_.triple, _MACOS_EXTENSION)
    if macos is not None:
        env.setdefault("MACOSX_DEPLOYMENT_TARGET", f"{macos[0]}.{macos[1]}")
    return env
