"""Rust target triples as mwheel builds for them: platform tags, file names, interpreter facts.

A ``Target`` is parsed once from a triple (``--target`` or the host's) with the facts of
``mwheel/build/data/targets.json`` and answers every per-platform question the driver has:
the wheel's platform tag before the audit (``linux_aarch64``, ``macosx_11_0_arm64``,
``win_amd64``), the extension module's suffix for a CPython version (CPython's
``EXT_SUFFIX``: ``.cpython-311-aarch64-linux-gnu.so``, ``.cpython-311-darwin.so``,
``.cp311-win_amd64.pyd``), what cargo calls the artifacts (``lib<name>.so``,
``lib<name>.dylib``, ``<name>.dll``, ``<name>.exe``) and which slices a universal2 build
needs. The driver never branches on the host for these.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mwheel.errors import BuildError

# Oldest macOS each architecture's Rust standard library supports (rustc's defaults);
# MACOSX_DEPLOYMENT_TARGET may only raise it.
_MACOS_VAR = "MACOSX_DEPLOYMENT_TARGET"


@cache
def _data() -> dict[str, Any]:
    text = resources.files("mwheel.build").joinpath("data/targets.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def known_triples() -> tuple[str, ...]:
    return tuple(_data()["targets"])


def cpython_versions() -> tuple[tuple[int, int], ...]:
    """The CPython versions whose facts mwheel ships (for cross builds without -i)."""
    return tuple(_version(v) for v in _data()["cpython"]["versions"])


def free_threaded_versions() -> tuple[tuple[int, int], ...]:
    return tuple(_version(v) for v in _data()["cpython"]["free_threaded"])


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class Target:
    """One Rust target triple and what a wheel built for it looks like."""

    triple: str
    os: str  # "linux", "macos" or "windows"
    tag_arch: str  # the platform tag's architecture (aarch64, armv7l, arm64, win_amd64...)
    ext_arch: str
    ext_os: str
    zig: str  # zig cc's target name (without a glibc version)
    pointer_width: int
    min_macos: tuple[int, int] | None = None
    slices: tuple[str, ...] = ()  # universal2: the triples cargo builds, then merged

    @classmethod
    def parse(cls, triple: str) -> Target:
        facts = _data()["targets"].get(triple)
        if facts is None:
            raise BuildError(
                f"target {triple}: not a target mwheel builds wheels for "
                f"(known: {', '.join(known_triples())})"
            )
        return cls(
            triple=triple,
            os=facts["os"],
            tag_arch=facts["tag_arch"],
            ext_arch=facts["ext_arch"],
            ext_os=facts["ext_os"],
            zig=facts["zig"],
            pointer_width=facts["pointer_width"],
            min_macos=_version(facts["min_macos"]) if "min_macos" in facts else None,
            slices=tuple(facts.get("slices", ())),
        )

    @property
    def is_musl(self) -> bool:
        return "-musl" in self.triple

    @property
    def rust_arch(self) -> str:
        return self.triple.split("-", 1)[0]

    def with_musl(self) -> Target:
        """The musl flavour of a Linux glibc target (``--compatibility musllinux_*``)."""
        if self.is_musl or self.os != "linux":
            return self
        triple = self.triple.replace("-gnueabihf", "-musleabihf").replace("-gnu", "-musl")
        return Target.parse(triple)

    def macos_version(self, environ: dict[str, str] | None = None) -> tuple[int, int]:
        """MACOSX_DEPLOYMENT_TARGET if set (and not below the target's floor), else the floor."""
        assert self.min_macos is not None
        env = os.environ if environ is None else environ
        raw = env.get(_MACOS_VAR, "").strip()
        if not raw:
            return self.min_macos
        try:
            parts = [int(p) for p in raw.split(".")]
        except ValueError:
            raise BuildError(f"{_MACOS_VAR}={raw!r} is not a macOS version like 11.0") from None
        version = (parts[0], parts[1] if len(parts) > 1 and parts[0] < 11 else 0)
        return max(version, self.min_macos)

    def platform_tag(self, environ: dict[str, str] | None = None) -> str:
        """The tag of the freshly built wheel, before the audit names a better one."""
        if self.os == "linux":
            return f"linux_{self.tag_arch}"
        if self.os == "macos":
            major, minor = self.macos_version(environ)
            return f"macosx_{major}_{minor}_{self.tag_arch}"
        return self.tag_arch

    def ext_suffix(self, version: tuple[int, int], free_threaded: bool = False) -> str:
        """CPython's EXT_SUFFIX on this target (PEP 3149; ``t`` for free-threaded, PEP 703)."""
        ld = f"{version[0]}{version[1]}{'t' if free_threaded else ''}"
        if self.os == "windows":
            return f".cp{ld}-{self.ext_os}.pyd"
        if self.os == "macos":
            return f".cpython-{ld}-darwin.so"
        return f".cpython-{ld}-{self.ext_arch}-{self.ext_os}.so"

    @property
    def abi3_suffix(self) -> str:
        return ".pyd" if self.os == "windows" else ".abi3.so"

    def library_file(self, name: str) -> str:
        """The file name a cdylib target ``name`` is linked to."""
        if self.os == "windows":
            return f"{name}.dll"
        return f"lib{name}.dylib" if self.os == "macos" else f"lib{name}.so"

    def program_file(self, name: str) -> str:
        return f"{name}.exe" if self.os == "windows" else name
