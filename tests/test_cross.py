"""Cross builds, run for real: aarch64 wheels imported by an aarch64 CPython under qemu-user,
musl wheels audited as musllinux and run.

Debian's rustc (tests/crosslib.py) compiles; zig, or a linker the user names, links. The
cargo target directory is cached in ~/.cache/mwheel-cross, so a second run compiles nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest
from crosslib import TARGET_DIR, aarch64_python, build_std_env, debian_rustc_env

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary.elf import read_elf
from mwheel.binary.macho import read_macho
from mwheel.build import BuildOptions, build_wheels
from mwheel.build.targets import Target

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
AARCH64 = "aarch64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed"),
]


def build(crate: str, out: Path, env: dict[str, str], mp: pytest.MonkeyPatch, **kw: Any) -> Path:
    for key, value in env.items():
        mp.setenv(key, value)
    opts = BuildOptions(
        manifest_path=CRATES / crate / "Cargo.toml",
        out_dir=out,
        release=True,
        quiet=True,
        target_dir=kw.pop("target_dir", TARGET_DIR),
        **kw,
    )
    wheels = build_wheels(opts)
    assert len(wheels) == 1
    return wheels[0]


def cffi_header() -> None:
    """The cffi crate's header where maturin looks for one: ``<target dir>/header.h``.

    Every cross test shares one target directory, so each target's std is built once."""
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CRATES / "cffi-adder" / "include" / "cffi_adder.h", TARGET_DIR / "header.h")


def unpack(wheel: Path, dest: Path) -> Path:
    """Extract with the members' modes (zipfile alone drops the executable bits)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            if info.external_attr >> 16:
                path.chmod(info.external_attr >> 16 & 0o777)
    return dest


def run_aarch64(site: Path, code: str) -> str:
    python, _ = aarch64_python()
    prelude = f"import sys; sys.path.insert(0, {str(site)!r}); "
    proc = subprocess.run(
        [*python, "-c", prelude + code], capture_output=True, text=True, check=False, cwd=site
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def binaries(wheel: Path, suffix: str) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(wheel) as zf:
        return [(n, zf.read(n)) for n in zf.namelist() if n.endswith(suffix)]


def test_shipped_facts_match_real_interpreters() -> None:
    """The EXT_SUFFIX mwheel ships equals what the real interpreters say (host and aarch64)."""
    host = Target.parse(f"{os.uname().machine}-unknown-linux-gnu")
    assert host.ext_suffix(sys.version_info[:2]) == sysconfig.get_config_var("EXT_SUFFIX")
    python, _ = aarch64_python()
    code = "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"
    real = subprocess.run([*python, "-c", code], capture_output=True, text=True, check=True)
    assert Target.parse(AARCH64).ext_suffix((3, 11)) == real.stdout.strip()


def test_version_specific_pyo3_aarch64_zig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No aarch64 interpreter runs during the build: pyo3 gets its facts from -i python3.11."""
    env = debian_rustc_env(AARCH64)
    wheel = build(
        "cross-pyo3",
        tmp_path,
        env,
        monkeypatch,
        target=AARCH64,
        zig=True,
        interpreters=("python3.11",),
    )
    assert (
        wheel.name
        == "cross_pyo3-0.1.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
    )
    report = audit_wheel(wheel, AuditOptions(host_libs=False))
    assert report.compliant, report.findings
    [(member, data)] = binaries(wheel, ".so")
    assert member.endswith("cross_pyo3.cpython-311-aarch64-linux-gnu.so")
    assert read_elf(member, data).archs == ("aarch64",)
    out = run_aarch64(
        unpack(wheel, tmp_path / "site"), "import cross_pyo3 as m; print(m.arch(), m.mul(6, 7))"
    )
    assert out.split() == ["aarch64", "42"]


def test_abi3_aarch64_needs_only_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = debian_rustc_env(AARCH64)
    wheel = build("pyo3-abi3", tmp_path, env, monkeypatch, target=AARCH64, zig=True)
    assert wheel.name.endswith("-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
    out = run_aarch64(
        unpack(wheel, tmp_path / "site"), "import pyo3_abi3; print(pyo3_abi3.greet('arm'))"
    )
    assert out.strip() == "hello arm"


def test_bin_aarch64_with_the_users_linker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CARGO_TARGET_<TRIPLE>_LINKER is the user's cross linker; mwheel uses it as it is."""
    env = debian_rustc_env(AARCH64)
    linker = tmp_path / "aarch64-linker"
    # The user's linker here is zig for glibc 2.28, called the way a gcc cross linker is.
    linker.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m mwheel.build.zig aarch64-linux-gnu.2.28 "$@"\n'
    )
    linker.chmod(0o755)
    env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"] = str(linker)
    wheel = build(
        "bin-hello",
        tmp_path,
        env,
        monkeypatch,
        target=AARCH64,
        target_dir=TARGET_DIR / "own-linker",
    )
    assert wheel.name.startswith("bin_hello-1.0.0-py3-none-manylinux_2_")
    assert wheel.name.endswith("_aarch64.whl")
    _, root = aarch64_python()
    exe = unpack(wheel, tmp_path / "site") / "bin_hello-1.0.0.data" / "scripts" / "bin-hello"
    proc = subprocess.run(
        ["qemu-aarch64", "-L", str(root), str(exe), "from", "arm"], capture_output=True, text=True
    )
    assert proc.stdout.strip() == "bin-hello says from arm", proc.stderr


def test_musl_bin_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A musl program links musl dynamically, is audited as musllinux and runs through
    musl's loader."""
    env = build_std_env()
    wheel = build("bin-hello", tmp_path, env, monkeypatch, target=MUSL, zig=True)
    assert wheel.name.startswith("bin_hello-1.0.0-py3-none-musllinux_1_")
    assert wheel.name.endswith("_x86_64.whl")
    exe = unpack(wheel, tmp_path / "site") / "bin_hello-1.0.0.data" / "scripts" / "bin-hello"
    elf = read_elf(exe.name, exe.read_bytes())
    assert elf.elf is not None and elf.elf.interpreter == "/lib/ld-musl-x86_64.so.1"
    if not Path("/lib/ld-musl-x86_64.so.1").is_file():
        pytest.skip("musl's loader is not installed (apt-get install musl)")
    out = subprocess.run([str(exe), "on", "musl"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "bin-hello says on musl"


def test_musllinux_cdylib_is_dynamic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--compatibility musllinux_1_2 alone builds the host's musl target; the cdylib links
    musl dynamically (-crt-static), is audited as musl, and musl's loader runs it."""
    env = build_std_env()
    cffi_header()
    wheel = build(
        "cffi-adder",
        tmp_path,
        env,
        monkeypatch,
        zig=True,
        compatibility=("musllinux_1_2",),
    )
    # The repair retags to the most compatible tag the library honours (1_1 or 1_2).
    assert wheel.name.startswith("cffi_adder-0.1.0-py3-none-musllinux_1_")
    [(member, data)] = binaries(wheel, ".so")
    assert member == "cffi_adder/libcffi_adder.so"
    assert "libc.so" in read_elf(member, data).dependencies
    report = audit_wheel(wheel, AuditOptions(host_libs=False))
    assert report.compliant, report.findings
    loader = Path("/lib/ld-musl-x86_64.so.1")
    if not loader.is_file():
        pytest.skip("musl's loader is not installed (apt-get install musl)")
    lib = unpack(wheel, tmp_path / "site") / member
    # A musl program that dlopens the library and calls it, linked by zig against musl.
    src = tmp_path / "call.c"
    src.write_text(
        "#include <dlfcn.h>\n#include <stdio.h>\n"
        "int main(int c, char **v) { void *h = dlopen(v[1], RTLD_NOW);\n"
        "  if (!h) { puts(dlerror()); return 1; }\n"
        '  unsigned (*add)(unsigned, unsigned) = dlsym(h, "cffi_adder_add");\n'
        '  printf("%u\\n", add(40, 2)); return 0; }\n'
    )
    prog = tmp_path / "call"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            "x86_64-linux-musl",
            "-dynamic",
            # Release mode without zig's UB sanitizer runtime, which needs a newer musl
            # (statx) than Debian's loader.
            "-O2",
            "-fno-sanitize=undefined",
            "-o",
            str(prog),
            str(src),
        ],
        check=True,
    )
    out = subprocess.run([str(prog), str(lib)], capture_output=True, text=True)
    assert out.stdout.strip() == "42", out.stdout + out.stderr


def test_windows_gnu_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Windows build from this Linux host, end to end: std built from source, zig's MinGW
    links, the program is ``.data/scripts/<name>.exe`` and the DLL sits in the cffi package
    of a ``win_amd64`` wheel the PE audit passes. (wine 8 cannot run them: Rust's std needs
    bcryptprimitives.dll's ProcessPrng.)"""
    env = build_std_env()
    if shutil.which("x86_64-w64-mingw32-dlltool") is None:
        pytest.skip("Rust's Windows std needs dlltool (apt-get install binutils-mingw-w64-x86-64)")
    triple = "x86_64-pc-windows-gnu"
    program = build("bin-hello", tmp_path, env, monkeypatch, target=triple, zig=True)
    assert program.name == "bin_hello-1.0.0-py3-none-win_amd64.whl"
    assert audit_wheel(program).compliant
    with zipfile.ZipFile(program) as zf:
        assert "bin_hello-1.0.0.data/scripts/bin-hello.exe" in zf.namelist()
    cffi_header()
    library = build("cffi-adder", tmp_path, env, monkeypatch, target=triple, zig=True)
    assert library.name == "cffi_adder-0.1.0-py3-none-win_amd64.whl"
    [(member, _)] = binaries(library, ".dll")
    assert member == "cffi_adder/cffi_adder.dll"
    report = audit_wheel(library)
    assert report.compliant, report.findings


def test_universal2_from_linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--target universal2-apple-darwin``: one cargo build per slice (std from source, zig
    links against its macOS stubs), merged into one fat library, audited as universal2."""
    env = build_std_env()
    del env["RUSTFLAGS"]  # link-self-contained is not an option on Apple targets
    env["CARGO_PROFILE_RELEASE_STRIP"] = "false"  # Debian's rustc ships no rust-objcopy
    monkeypatch.delenv("RUSTFLAGS", raising=False)
    monkeypatch.delenv("MACOSX_DEPLOYMENT_TARGET", raising=False)
    cffi_header()
    wheel = build(
        "cffi-adder",
        tmp_path,
        env,
        monkeypatch,
        target="universal2-apple-darwin",
        zig=True,
    )
    assert wheel.name == "cffi_adder-0.1.0-py3-none-macosx_10_12_universal2.whl"
    [(member, data)] = binaries(wheel, ".dylib")
    assert member == "cffi_adder/libcffi_adder.dylib"
    lib = read_macho(member, data)
    assert lib.macho is not None
    assert [(s.arch, s.minos) for s in lib.macho.slices] == [
        ("arm64", (11, 0, 0)),
        ("x86_64", (10, 12, 0)),
    ]
    report = audit_wheel(wheel)
    assert report.compliant, report.findings


def test_universal2_pyo3_from_linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version-specific pyo3 extension for macOS: cpython-312-darwin.so, both slices
    leaving the Python API to the loading interpreter (-undefined dynamic_lookup)."""
    env = build_std_env()
    del env["RUSTFLAGS"]
    env["CARGO_PROFILE_RELEASE_STRIP"] = "false"
    monkeypatch.delenv("RUSTFLAGS", raising=False)
    monkeypatch.delenv("MACOSX_DEPLOYMENT_TARGET", raising=False)
    wheel = build(
        "cross-pyo3",
        tmp_path,
        env,
        monkeypatch,
        target="universal2-apple-darwin",
        zig=True,
        interpreters=("python3.12",),
    )
    assert wheel.name == "cross_pyo3-0.1.0-cp312-cp312-macosx_10_12_universal2.whl"
    [(member, data)] = binaries(wheel, ".so")
    assert member.endswith("cross_pyo3.cpython-312-darwin.so")
    ext = read_macho(member, data)
    assert sorted(ext.archs) == ["arm64", "x86_64"]
    assert any(s.name == "PyModule_Create2" or s.name.startswith("PyModule") for s in ext.imported)
    assert audit_wheel(wheel).compliant
