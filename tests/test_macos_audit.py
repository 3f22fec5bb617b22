"""macOS audit rules on zig-built wheels: external dylibs, minimum versions, architectures,
signatures, @rpath through the loader chain, and the best tag."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from fixturelib.build import compile_c
from fixturelib.macos import (
    ARM64_11,
    ARM64_13,
    X86_64_1012,
    MacFixture,
    build_macos_fixture,
    extension,
    make_fat,
)
from fixturelib.wheels import make_wheel

from mwheel.audit import WheelReport, audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.audit.macos import mac_policy

EXT = "pkg/_ext.cpython-311-darwin.so"
SRC = Path(__file__).resolve().parents[1] / "fixtures" / "macos"


def wheel_of(tmp: Path, tag: str, members: dict[str, bytes]) -> Path:
    return make_wheel(tmp, "pkg", "1.0", f"cp311-cp311-{tag}", {"pkg/__init__.py": b"", **members})


def codes(report: WheelReport, severity: str = "error") -> list[tuple[str, str | None]]:
    return [(f.code, f.member) for f in report.findings if f.severity == severity]


def clean(target: str) -> bytes:
    return extension("clean_ext.c", target).read_bytes()


def unsigned(data: bytes) -> bytes:
    """The binary as ``codesign --remove-signature`` leaves it: no LC_CODE_SIGNATURE, the
    signature's bytes cut off and __LINKEDIT shrunk to match."""
    out = bytearray(data)
    ncmds, sizeofcmds = struct.unpack_from("<II", data, 16)
    pos, found = 32, None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        if cmd == 0x1D:
            found = pos
        elif cmd == 0x19 and data[pos + 8 : pos + 18] == b"__LINKEDIT":
            linkedit = pos
        pos += size
    assert found is not None
    dataoff = struct.unpack_from("<I", data, found + 8)[0]
    out[found : 32 + sizeofcmds] = out[found + 16 : 32 + sizeofcmds] + bytes(16)
    struct.pack_into("<II", out, 16, ncmds - 1, sizeofcmds - 16)
    fileoff = struct.unpack_from("<Q", data, linkedit + 40)[0]
    struct.pack_into("<Q", out, linkedit + 48, dataoff - fileoff)
    return bytes(out[:dataoff])


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MacFixture]:
    root = tmp_path_factory.mktemp("macos-audit")
    return {
        n: build_macos_fixture(n, root / n)
        for n in ("clean", "absolute", "libpath", "chain", "thin")
    }


def test_clean_wheel_is_compliant(fixtures: dict[str, MacFixture]) -> None:
    report = audit_wheel(fixtures["clean"].wheel)
    assert report.compliant and report.exit_code == 0
    assert report.best_tag == "macosx_11_0_arm64" and not report.external_libraries


def test_absolute_install_name_is_external(fixtures: dict[str, MacFixture]) -> None:
    fx = fixtures["absolute"]
    report = audit_wheel(fx.wheel)
    assert not report.compliant and report.exit_code == 1
    lib = str(fx.lib_dirs[0] / "libmwabsolute.dylib")
    assert report.external_libraries == {lib: lib}
    (finding,) = [f for f in report.findings if f.code == "macos-library-external"]
    assert finding.member == fx.extension
    # The why names the member, the slice and the load command.
    assert f"loads {lib} (LC_LOAD_DYLIB in the arm64 slice)" in finding.message
    assert report.repair_tag == "macosx_11_0_arm64"


def test_leaf_install_name_needs_lib_path(fixtures: dict[str, MacFixture]) -> None:
    fx = fixtures["libpath"]
    missing = audit_wheel(fx.wheel, AuditOptions(lib_paths=()))
    assert ("library-not-found", fx.extension) in codes(missing)
    assert missing.repair_tag is None
    found = audit_wheel(fx.wheel, AuditOptions(lib_paths=tuple(fx.lib_dirs)))
    assert found.external_libraries == {
        "libmwlibpath.dylib": str(fx.lib_dirs[0] / "libmwlibpath.dylib")
    }


def test_chain_through_host_rpath(fixtures: dict[str, MacFixture]) -> None:
    """The outer dylib loads @rpath/libmwinner.dylib through its absolute LC_RPATH."""
    fx = fixtures["chain"]
    report = audit_wheel(fx.wheel)
    outer_dir, inner_dir = fx.lib_dirs
    outer, inner = str(outer_dir / "libmwouter.dylib"), str(inner_dir / "libmwinner.dylib")
    assert report.external_libraries == {outer: outer, "@rpath/libmwinner.dylib": inner}


def test_exclude_keeps_a_library_external(fixtures: dict[str, MacFixture]) -> None:
    report = audit_wheel(fixtures["absolute"].wheel, AuditOptions(exclude=("libmwabsolute.*",)))
    assert report.compliant


def test_version_too_high(tmp_path: Path) -> None:
    wheel = wheel_of(tmp_path, "macosx_11_0_arm64", {EXT: clean(ARM64_13)})
    report = audit_wheel(wheel)
    (f,) = [f for f in report.findings if f.code == "macos-version-too-high"]
    assert f.member == EXT and f.tag == "macosx_11_0_arm64"
    assert "the arm64 slice needs macOS 13.0 (LC_BUILD_VERSION minos)" in f.message
    assert report.best_tag == "macosx_13_0_arm64" and not report.compliant


def test_version_min_macosx_too_high(tmp_path: Path) -> None:
    wheel = wheel_of(tmp_path, "macosx_10_9_x86_64", {EXT: clean(X86_64_1012)})
    report = audit_wheel(wheel)
    assert [(f.code, f.details) for f in report.findings if f.severity == "error"] == [
        (
            "macos-version-too-high",
            (("arch", "x86_64"), ("minos", "10.12"), ("command", "LC_VERSION_MIN_MACOSX")),
        )
    ]
    assert report.best_tag == "macosx_10_12_x86_64"


def test_macos_11_and_later_tags_are_major_zero(tmp_path: Path) -> None:
    """pip offers macosx_11_0 to every macOS 11.x: a binary for 11.3 honours it."""
    ext = compile_c(
        [SRC / "clean_ext.c"],
        "_ext.so",
        compiler="zig",
        target="aarch64-macos.11.3",
        include_python=False,
        extra_args=["-Wl,-undefined,dynamic_lookup"],
    ).read_bytes()
    report = audit_wheel(wheel_of(tmp_path, "macosx_11_0_arm64", {EXT: ext}))
    assert report.compliant and report.best_tag == "macosx_11_0_arm64"
    assert mac_policy().normalize((12, 4, 1)) == (12, 0)
    assert mac_policy().normalize((10, 15, 7)) == (10, 15)


def test_universal2_arm64_slice_does_not_raise_the_version(tmp_path: Path) -> None:
    """An arm64 slice built for 11.0 fits macosx_10_12_universal2: no arm64 Mac runs less."""
    fat = make_fat([clean(X86_64_1012), clean(ARM64_11)])
    report = audit_wheel(wheel_of(tmp_path, "macosx_10_12_universal2", {EXT: fat}))
    assert report.compliant and report.best_tag == "macosx_10_12_universal2"
    lower = audit_wheel(wheel_of(tmp_path / "b", "macosx_10_9_universal2", {EXT: fat}))
    assert [
        (f.code, dict(f.details).get("arch")) for f in lower.findings if f.severity == "error"
    ] == [("macos-version-too-high", "x86_64")]


def test_missing_architecture(tmp_path: Path) -> None:
    report = audit_wheel(wheel_of(tmp_path, "macosx_11_0_universal2", {EXT: clean(ARM64_11)}))
    (f,) = [f for f in report.findings if f.code == "macos-architecture-missing"]
    assert f.member == EXT and "has no x86_64 slice (it has arm64)" in f.message
    assert report.best_tag == "macosx_11_0_arm64"


def test_best_tag_uses_archs_every_binary_has(tmp_path: Path) -> None:
    fat = make_fat([clean(X86_64_1012), clean(ARM64_11)])
    members = {EXT: fat, "pkg/_thin.cpython-311-darwin.so": clean(ARM64_13)}
    report = audit_wheel(wheel_of(tmp_path, "macosx_10_12_universal2", members))
    assert report.best_tag == "macosx_13_0_arm64"
    info = [f for f in report.findings if f.code == "best-tag-constraint"]
    assert [f.member for f in info] == ["pkg/_thin.cpython-311-darwin.so"]


def test_unsigned_arm64(tmp_path: Path) -> None:
    report = audit_wheel(wheel_of(tmp_path, "macosx_11_0_arm64", {EXT: unsigned(clean(ARM64_11))}))
    assert codes(report) == [("macos-unsigned", EXT)]


def test_rpath_inherited_from_the_loader(tmp_path: Path) -> None:
    """dyld tries the LC_RPATHs of every image up the loader chain: libouter loads
    @rpath/libmwinner.dylib and has no LC_RPATH; the extension's @loader_path/.dylibs
    finds it."""
    inner = compile_c(
        [SRC / "chain_inner.c"],
        "libmwinner.dylib",
        compiler="zig",
        target=ARM64_11,
        include_python=False,
        extra_args=["-Wl,-install_name,@rpath/libmwinner.dylib"],
    )
    outer = compile_c(
        [SRC / "chain_outer.c"],
        "libmwouter.dylib",
        compiler="zig",
        target=ARM64_11,
        include_python=False,
        libs=["mwinner"],
        lib_dirs=[inner.parent],
        extra_args=["-Wl,-install_name,@rpath/libmwouter.dylib"],
    )
    ext = extension("chain_ext.c", ARM64_11, [outer], ["-Wl,-rpath,@loader_path/.dylibs"])
    members = {
        EXT: ext.read_bytes(),
        "pkg/.dylibs/libmwouter.dylib": outer.read_bytes(),
        "pkg/.dylibs/libmwinner.dylib": inner.read_bytes(),
    }
    report = audit_wheel(wheel_of(tmp_path, "macosx_11_0_arm64", members))
    assert report.compliant, report.findings
    graph = report.verdicts["macos"].graph
    assert {(d.needed_by, d.member) for d in graph.dependencies if d.kind == "bundled"} == {
        (EXT, "pkg/.dylibs/libmwouter.dylib"),
        ("pkg/.dylibs/libmwouter.dylib", "pkg/.dylibs/libmwinner.dylib"),
    }
