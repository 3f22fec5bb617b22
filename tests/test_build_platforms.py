"""The per-platform pieces of ``mwheel build`` that this Linux machine can prove.

macOS and Windows hosts cannot run here; what can: the target facts (tags, EXT_SUFFIX, file
names) against the rules and against real interpreters, cargo's messages as macOS and
Windows builds print them (tests/data/cargo_messages), the universal2 merge on dylibs zig
builds for both architectures (read back by mwheel's Mach-O reader, macholib as oracle,
and audited as a universal2 wheel), the pyo3 configuration file, and interpreter discovery
through a ``py`` launcher.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fixturelib.macos import ARM64_11, X86_64_1012, extension
from fixturelib.wheels import make_wheel

from mwheel.audit import audit_wheel
from mwheel.binary.macho import read_macho
from mwheel.build import fat, interpreters
from mwheel.build.cargo import Crate, _parse_messages
from mwheel.build.cargo_env import select_target
from mwheel.build.interpreters import cross_interpreters, for_target, version_of_name
from mwheel.build.pyo3_config import config_text, write_config
from mwheel.build.targets import Target, known_triples
from mwheel.build.toolchain import linker_env
from mwheel.errors import BuildError

MESSAGES = Path(__file__).parent / "data" / "cargo_messages"
needs_zig = pytest.mark.skipif(
    shutil.which("zig") is None and not __import__("importlib").util.find_spec("ziglang"),
    reason="zig is not installed",
)


@pytest.mark.parametrize(
    "triple, tag, suffix311, suffix313t, library, program",
    [
        ("x86_64-unknown-linux-gnu", "linux_x86_64", ".cpython-311-x86_64-linux-gnu.so",
         ".cpython-313t-x86_64-linux-gnu.so", "libm.so", "m"),
        ("i686-unknown-linux-gnu", "linux_i686", ".cpython-311-i386-linux-gnu.so",
         ".cpython-313t-i386-linux-gnu.so", "libm.so", "m"),
        ("armv7-unknown-linux-gnueabihf", "linux_armv7l", ".cpython-311-arm-linux-gnueabihf.so",
         ".cpython-313t-arm-linux-gnueabihf.so", "libm.so", "m"),
        ("powerpc64le-unknown-linux-gnu", "linux_ppc64le",
         ".cpython-311-powerpc64le-linux-gnu.so", ".cpython-313t-powerpc64le-linux-gnu.so",
         "libm.so", "m"),
        ("s390x-unknown-linux-gnu", "linux_s390x", ".cpython-311-s390x-linux-gnu.so",
         ".cpython-313t-s390x-linux-gnu.so", "libm.so", "m"),
        ("aarch64-unknown-linux-musl", "linux_aarch64", ".cpython-311-aarch64-linux-musl.so",
         ".cpython-313t-aarch64-linux-musl.so", "libm.so", "m"),
        ("aarch64-apple-darwin", "macosx_11_0_arm64", ".cpython-311-darwin.so",
         ".cpython-313t-darwin.so", "libm.dylib", "m"),
        ("x86_64-apple-darwin", "macosx_10_12_x86_64", ".cpython-311-darwin.so",
         ".cpython-313t-darwin.so", "libm.dylib", "m"),
        ("universal2-apple-darwin", "macosx_10_12_universal2", ".cpython-311-darwin.so",
         ".cpython-313t-darwin.so", "libm.dylib", "m"),
        ("x86_64-pc-windows-msvc", "win_amd64", ".cp311-win_amd64.pyd",
         ".cp313t-win_amd64.pyd", "m.dll", "m.exe"),
        ("i686-pc-windows-msvc", "win32", ".cp311-win32.pyd", ".cp313t-win32.pyd", "m.dll",
         "m.exe"),
        ("aarch64-pc-windows-msvc", "win_arm64", ".cp311-win_arm64.pyd",
         ".cp313t-win_arm64.pyd", "m.dll", "m.exe"),
    ],
)  # fmt: skip
def test_target_rules(
    triple: str,
    tag: str,
    suffix311: str,
    suffix313t: str,
    library: str,
    program: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MACOSX_DEPLOYMENT_TARGET", raising=False)
    t = Target.parse(triple)
    assert t.platform_tag() == tag
    assert t.ext_suffix((3, 11)) == suffix311
    assert t.ext_suffix((3, 13), free_threaded=True) == suffix313t
    assert t.library_file("m") == library and t.program_file("m") == program
    assert t.abi3_suffix == (".pyd" if t.os == "windows" else ".abi3.so")


def test_every_target_has_complete_facts() -> None:
    for triple in known_triples():
        t = Target.parse(triple)
        assert t.os in ("linux", "macos", "windows") and t.pointer_width in (32, 64)
        assert (t.min_macos is not None) == (t.os == "macos")
        assert all(Target.parse(s).os == "macos" for s in t.slices)


@pytest.mark.parametrize(
    "triple, env, tag",
    [
        ("x86_64-apple-darwin", "10.15", "macosx_10_15_x86_64"),
        ("x86_64-apple-darwin", "10.9", "macosx_10_12_x86_64"),  # Rust's floor
        ("aarch64-apple-darwin", "10.15", "macosx_11_0_arm64"),  # arm64 starts at 11
        ("aarch64-apple-darwin", "12.3", "macosx_12_0_arm64"),  # 11+: the major counts
        ("universal2-apple-darwin", "11.0", "macosx_11_0_universal2"),
    ],
)
def test_macosx_deployment_target(triple: str, env: str, tag: str) -> None:
    assert Target.parse(triple).platform_tag({"MACOSX_DEPLOYMENT_TARGET": env}) == tag


def test_bad_deployment_target() -> None:
    with pytest.raises(BuildError, match="MACOSX_DEPLOYMENT_TARGET"):
        Target.parse("x86_64-apple-darwin").platform_tag({"MACOSX_DEPLOYMENT_TARGET": "eleven"})


def test_musllinux_switches_the_host_target() -> None:
    assert select_target(None, "x86_64-unknown-linux-gnu", ("musllinux_1_2",)).triple == (
        "x86_64-unknown-linux-musl"
    )
    armv7 = select_target(None, "armv7-unknown-linux-gnueabihf", ("musllinux_1_1",))
    assert armv7.triple == "armv7-unknown-linux-musleabihf"
    assert select_target("aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", ()).tag_arch == (
        "aarch64"
    )


def _crate(package_id: str) -> Crate:
    return Crate(
        "demo", "0.1.0", Path("Cargo.toml"), package_id, "demo", (), (), {}, frozenset(),
        Path("target"), {},
    )  # fmt: skip


def test_cargo_messages_of_a_macos_build() -> None:
    lines = (MESSAGES / "macos-cdylib.jsonl").read_text().splitlines()
    out = _parse_messages(
        lines, _crate("path+file:///Users/runner/work/demo/demo#demo@0.1.0"), {"cdylib"}
    )
    [art] = out.artifacts
    assert str(art.path).endswith("/aarch64-apple-darwin/release/libdemo.dylib")  # not the .dSYM
    assert [str(p) for p in out.linked_paths] == [
        "/Users/runner/work/demo/demo/target/aarch64-apple-darwin/release/build/"
        "demo-0f1e2d3c4b5a6978/out"
    ]


def test_cargo_messages_of_a_windows_build() -> None:
    lines = (MESSAGES / "windows-cdylib.jsonl").read_text().splitlines()
    out = _parse_messages(lines, _crate("path+file:///D:/a/demo/demo#demo@0.1.0"), {"cdylib"})
    [art] = out.artifacts
    assert str(art.path) == "D:\\a\\demo\\demo\\target\\release\\demo.dll"  # not .dll.lib / .pdb
    assert [str(p) for p in out.linked_paths] == [
        "C:\\hostedtoolcache\\windows\\Python\\3.11.9\\x64\\libs"
    ]
    lines = (MESSAGES / "windows-bin.jsonl").read_text().splitlines()
    out = _parse_messages(lines, _crate("path+file:///D:/a/tool/tool#bin-hello@1.0.0"), {"bin"})
    [art] = out.artifacts
    assert (art.kind, art.name) == ("bin", "bin-hello")
    assert str(art.path) == "D:\\a\\tool\\tool\\target\\release\\bin-hello.exe"


@needs_zig
def test_universal2_merge_of_zig_dylibs(tmp_path: Path) -> None:
    """Two thin extensions built by zig merge into one fat file, each slice unchanged."""
    arm = extension("clean_ext.c", ARM64_11)
    x86 = extension("clean_ext.c", X86_64_1012)
    merged = fat.merge([arm, x86], tmp_path / "ext.so")
    data = merged.read_bytes()
    binary = read_macho("ext.so", data)
    assert sorted(binary.archs) == ["arm64", "x86_64"]
    from macholib.MachO import MachO  # the oracle

    headers = MachO(str(merged)).headers
    assert len(headers) == 2
    for header, thin in zip(headers, (arm, x86), strict=True):
        raw = thin.read_bytes()
        assert data[header.offset : header.offset + len(raw)] == raw
        assert header.offset % (1 << (14 if thin is arm else 12)) == 0
    wheel = make_wheel(
        tmp_path,
        "demo",
        "1.0",
        "cp311-cp311-macosx_11_0_universal2",
        {"demo.cpython-311-darwin.so": data},
    )
    report = audit_wheel(wheel)
    assert report.compliant, report.findings


def test_merge_refuses_what_is_not_two_thin_slices(tmp_path: Path) -> None:
    thin = tmp_path / "a.dylib"
    thin.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(28))
    with pytest.raises(BuildError, match="same CPU type"):
        fat.merge([thin, thin], tmp_path / "out")
    other = tmp_path / "b.so"
    other.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(BuildError, match="not a Mach-O"):
        fat.merge([thin, other], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_pyo3_config_for_a_target_interpreter(tmp_path: Path) -> None:
    arm = Target.parse("armv7-unknown-linux-gnueabihf")
    text = config_text(for_target(arm, (3, 13), True), arm)
    assert text.splitlines() == [
        "implementation=CPython",
        "version=3.13",
        "shared=true",
        "pointer_width=32",
        "build_flags=Py_GIL_DISABLED",
        "suppress_build_script_link_lines=false",
    ]
    path = write_config(tmp_path, for_target(arm, (3, 13), True), arm)
    mtime = path.stat().st_mtime_ns
    assert write_config(tmp_path, for_target(arm, (3, 13), True), arm) == path
    assert path.stat().st_mtime_ns == mtime  # unchanged: pyo3 is not rebuilt


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("python3.11", ((3, 11), False)),
        ("python3.13t", ((3, 13), True)),
        ("3.12", ((3, 12), False)),
        ("cp314t", ((3, 14), True)),
        ("/usr/bin/python3.10", ((3, 10), False)),
        ("python3.11.exe", ((3, 11), False)),
        ("pypy3.10", None),
        ("python", None),
    ],
)
def test_version_names(name: str, parsed: tuple[tuple[int, int], bool] | None) -> None:
    assert version_of_name(name) == parsed


def test_cross_interpreters_defaults() -> None:
    aarch64 = Target.parse("aarch64-unknown-linux-gnu")
    [abi3] = cross_interpreters(aarch64, (), False, (3, 9))
    assert abi3.version == (3, 9)
    [running] = cross_interpreters(aarch64, (), False, None)
    assert running.version == sys.version_info[:2] and running.executable is None
    every = cross_interpreters(aarch64, (), True, None)
    assert [i.version[1] for i in every] == list(range(9, 15))
    both = cross_interpreters(aarch64, ("python3.13", "python3.13t", "3.13"), False, None)
    assert [(i.abi_tag, i.ext_suffix) for i in both] == [
        ("cp313", ".cpython-313-aarch64-linux-gnu.so"),
        ("cp313t", ".cpython-313t-aarch64-linux-gnu.so"),
    ]


def test_windows_py_launcher_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows, -i python3.X that is not on PATH is found through ``py -3.X``."""
    launcher = tmp_path / "py"
    launcher.write_text(
        f'#!/bin/sh\n[ "$1" = "-{sys.version_info[0]}.{sys.version_info[1]}" ] || exit 103\n'
        f'shift\nexec {sys.executable} "$@"\n'
    )
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    # Only the module's idea of the platform changes; shutil and subprocess stay POSIX.
    windows = SimpleNamespace(
        platform="win32", executable=sys.executable, version_info=sys.version_info
    )
    monkeypatch.setattr("mwheel.build.interpreters.sys", windows)
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    [found] = interpreters.find_interpreters((name,), False)
    assert found.version == sys.version_info[:2]
    assert found.executable is not None and found.executable.samefile(sys.executable)


@pytest.mark.parametrize(
    "target, host, needs_linker",
    [
        ("aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", True),
        ("i686-unknown-linux-gnu", "x86_64-unknown-linux-gnu", False),  # cc -m32
        ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu", False),
        ("x86_64-apple-darwin", "aarch64-apple-darwin", False),  # Apple's clang, both arches
        ("aarch64-pc-windows-msvc", "x86_64-pc-windows-msvc", False),  # MSVC's link.exe
        ("x86_64-apple-darwin", "x86_64-unknown-linux-gnu", True),
    ],
)
def test_which_targets_need_a_cross_linker(
    target: str, host: str, needs_linker: bool, tmp_path: Path
) -> None:
    env = {"CARGO_HOME": str(tmp_path)}
    if needs_linker:
        with pytest.raises(BuildError, match="no linker for"):
            linker_env(Target.parse(target), host, tmp_path, env)
        env["CC_" + target.replace("-", "_")] = sys.executable  # any program that exists
        var = f"CARGO_TARGET_{target.upper().replace('-', '_')}_LINKER"
        assert linker_env(Target.parse(target), host, tmp_path, env) == {var: sys.executable}
    else:
        assert linker_env(Target.parse(target), host, tmp_path, env) == {}
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config.toml").write_text(f'[target.{target}]\nlinker = "cc"\n')
    assert linker_env(Target.parse(target), host, tmp_path, {"CARGO_HOME": str(tmp_path)}) == {}
