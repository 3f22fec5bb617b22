"""A real cross toolchain and a real foreign CPython for the cross-build tests.

This machine has rustup's Rust for the host only. Debian's ``rustc-web`` (1.96, at
/usr/bin/rustc) with ``libstd-rust-web-dev:arm64`` is a complete aarch64 toolchain, and
``rust-web-src`` lets cargo build the standard library of any other target
(``-Z build-std``, enabled with ``RUSTC_BOOTSTRAP=1``): .ci/run installs them. zig links.

Debian's arm64 ``python3.11-minimal`` and its libraries, unpacked with ``dpkg -x`` into
~/.cache/mwheel-cross/python-arm64, run under ``qemu-aarch64 -L``: a real aarch64 CPython
3.11 that imports a cross-built extension. Each helper skips the test when its piece is
missing, naming the piece.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEBIAN_RUSTC = Path("/usr/bin/rustc")
CACHE = Path(os.environ.get("MWHEEL_CROSS_CACHE", Path.home() / ".cache" / "mwheel-cross"))
TARGET_DIR = CACHE / "target"
_PY_DEBS = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libgcc-s1",
)


def debian_rustc_env(triple: str) -> dict[str, str]:
    """Environment that builds for ``triple`` with Debian's rustc and its installed std."""
    std = Path("/usr/lib/rustlib") / triple / "lib"
    if not DEBIAN_RUSTC.is_file() or not any(std.glob("libcore-*.rlib")):
        pytest.skip(f"Debian's rustc with the {triple} std is not installed (see .ci/run)")
    return {"RUSTC": str(DEBIAN_RUSTC), "CARGO_BUILD_JOBS": "2"}


def build_std_env() -> dict[str, str]:
    """Environment that builds the standard library from rust-web-src (for musl targets).

    Debian's layout has no self-contained crt objects, so rustc must not ask for them.
    """
    if not DEBIAN_RUSTC.is_file() or not Path("/usr/lib/rustlib/src/rust/library").is_dir():
        pytest.skip("Debian's rustc-web and rust-web-src are not installed (see .ci/run)")
    return {
        "RUSTC": str(DEBIAN_RUSTC),
        "RUSTC_BOOTSTRAP": "1",
        "CARGO_UNSTABLE_BUILD_STD": "std,panic_abort",
        "RUSTFLAGS": "-C link-self-contained=no",
        "CARGO_BUILD_JOBS": "2",
    }


def aarch64_python() -> tuple[list[str], Path]:
    """(command prefix running aarch64 python3.11, its root), downloaded once with apt-get."""
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-user is not installed")
    root = CACHE / "python-arm64"
    python = root / "usr" / "bin" / "python3.11"
    if not python.is_file():
        debs = CACHE / "debs-arm64"
        debs.mkdir(parents=True, exist_ok=True)
        got = subprocess.run(
            ["apt-get", "download", *(f"{p}:arm64" for p in _PY_DEBS)],
            cwd=debs,
            capture_output=True,
            text=True,
            check=False,
        )
        if got.returncode != 0:
            pytest.skip(f"cannot download Debian's arm64 python3.11: {got.stderr.strip()[-200:]}")
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    return ["qemu-aarch64", "-L", str(root), str(python)], root
