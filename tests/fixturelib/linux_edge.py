"""Linux wheels at the edges of the tag rules, built from ``fixtures/linux`` at test time.

Each builder compiles real objects (gcc, ``python -m ziglang cc`` for the cross targets and
musl) through the content-addressed cache of ``build.py`` and packs them into a wheel with
the tag the test asks for. They are not importable on this host; the audit judges their
bytes: loader, DT_NEEDED, DT_RELR, imports, ARM float ABI and core.
"""

from __future__ import annotations

from pathlib import Path

from .build import compile_c
from .wheels import make_wheel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "linux"
VERSION = "1.0"


def _wheel(dest: Path, dist: str, tag: str, members: dict[str, bytes | Path]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    return make_wheel(dest, dist, VERSION, tag, members)


def _ext_wheel(dest: Path, dist: str, tag: str, ext: Path, suffix: str) -> Path:
    """One shared object as ``<dist>/_ext<suffix>`` (the suffix names its libc for CPython)."""
    return _wheel(dest, dist, tag, {f"{dist}/__init__.py": b"", f"{dist}/_ext{suffix}": ext})


def no_needed_musl_ext(dest: Path, tag: str) -> Path:
    """A musl extension with no DT_NEEDED: zig links nothing when no libc function is used."""
    ext = compile_c(
        [FIXTURES / "edge_plain.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-musl",
        include_python=False,
    )
    return _ext_wheel(dest, "mwedge_musl", tag, ext, ".cpython-311-x86_64-linux-musl.so")


def relr_ext(dest: Path, tag: str, libc: str) -> Path:
    """A shared object with DT_RELR and no libc version node.

    The object is compiled for ``libc`` (musl by zig, glibc by gcc) and linked by GNU ld with
    ``-z pack-relative-relocs`` and ``-nostdlib``, so nothing but DT_RELR (and the file name)
    says which loader it needs. zig's own linker does not implement pack-relative-relocs.
    """
    if libc == "musl":
        obj = compile_c(
            [FIXTURES / "edge_plain.c"],
            "edge_plain.o",
            compiler="zig",
            target="x86_64-linux-musl",
            shared=False,
            include_python=False,
            extra_args=["-c"],
        )
        suffix = ".cpython-311-x86_64-linux-musl.so"
    else:
        obj = compile_c(
            [FIXTURES / "edge_plain.c"],
            "edge_plain.o",
            compiler="gcc",
            shared=False,
            include_python=False,
            extra_args=["-c"],
        )
        suffix = ".cpython-311-x86_64-linux-gnu.so"
    ext = compile_c(
        [obj],
        "_ext.so",
        compiler="gcc",
        include_python=False,
        extra_args=["-nostdlib", "-Wl,-z,pack-relative-relocs"],
    )
    return _ext_wheel(dest, f"mwedge_relr_{libc}", tag, ext, suffix)


def glibc_relr_ext(dest: Path, tag: str) -> Path:
    """gcc and GNU ld against this host's glibc: DT_RELR plus the GLIBC_ABI_DT_RELR need."""
    ext = compile_c(
        [FIXTURES / "edge_libc.c"],
        "_ext.so",
        compiler="gcc",
        include_python=False,
        extra_args=["-Wl,-z,pack-relative-relocs"],
    )
    return _ext_wheel(dest, "mwedge_glibc_relr", tag, ext, ".cpython-311-x86_64-linux-gnu.so")


def glibc_only_musl_ext(dest: Path, tag: str) -> Path:
    """A musl extension importing glibc's __printf_chk (strong) and a weak glibc function."""
    ext = compile_c(
        [FIXTURES / "glibc_only.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-musl",
        include_python=False,
    )
    return _ext_wheel(dest, "mwedge_fortify", tag, ext, ".cpython-311-x86_64-linux-musl.so")


def static_executable(dest: Path, tag: str, libc: str) -> Path:
    """A statically linked program in ``.data/scripts``: glibc (gcc -static) or musl (zig)."""
    if libc == "musl":
        exe = compile_c(
            [FIXTURES / "static_main.c"],
            "mw-static",
            compiler="zig",
            target="x86_64-linux-musl",
            shared=False,
            include_python=False,
            extra_args=["-static"],
        )
    else:
        exe = compile_c(
            [FIXTURES / "static_main.c"],
            "mw-static",
            compiler="gcc",
            shared=False,
            include_python=False,
            extra_args=["-static"],
        )
    dist = f"mwedge_static_{libc}"
    members: dict[str, bytes | Path] = {
        f"{dist}/__init__.py": b"",
        f"{dist}-{VERSION}.data/scripts/mw-static": exe,
    }
    return _wheel(dest, dist, tag, members)


# zig target, extra compiler flags, EXT_SUFFIX of each cross-built extension.
CROSS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "s390x": ("s390x-linux-gnu.2.17", (), "s390x-linux-gnu"),
    "loongarch64": ("loongarch64-linux-gnu.2.36", (), "loongarch64-linux-gnu"),
    "loongarch64-musl": ("loongarch64-linux-musl", (), "loongarch64-linux-musl"),
    "armv7l": ("arm-linux-gnueabihf.2.17", (), "arm-linux-gnueabihf"),
    # Soft-float EABI5 on an ARMv7 core (Debian's armel ABI, built for v7).
    "armv7-softfloat": ("arm-linux-gnueabi.2.17", (), "arm-linux-gnueabi"),
    # ARMv5TE soft-float (ARM926EJ-S), as a Raspberry-Pi-less embedded board runs.
    "armv5": ("arm-linux-gnueabi.2.17", ("-mcpu=arm926ej_s",), "arm-linux-gnueabi"),
    # ARMv6 hard-float (ARM1176JZF-S), what Raspberry Pi OS builds for its linux_armv7l wheels.
    "armv6-hardfloat": ("arm-linux-gnueabihf.2.17", ("-mcpu=arm1176jzf_s",), "arm-linux-gnueabihf"),
}


def cross_ext(dest: Path, tag: str, target: str) -> Path:
    """``edge_libc.c`` built by zig for one of ``CROSS`` (needs libc: DT_NEEDED libc.so.6)."""
    zig_target, flags, triple = CROSS[target]
    ext = compile_c(
        [FIXTURES / "edge_libc.c"],
        "_ext.so",
        compiler="zig",
        target=zig_target,
        include_python=False,
        extra_args=list(flags),
    )
    dist = "mwedge_" + target.replace("-", "_")
    return _ext_wheel(dest, dist, tag, ext, f".cpython-311-{triple}.so")


def ppc64_ext(dest: Path, tag: str) -> Path:
    """A big-endian ppc64 extension needing libc.so.6.

    zig ships no glibc for big-endian powerpc64, so a stand-in ``libc.so.6`` is built first
    (``-nostdlib``, SONAME libc.so.6, exporting strlen) and the extension links against it:
    the result needs libc.so.6 with no symbol version, as an ELFv1 glibc build would record.
    """
    stub = compile_c(
        [FIXTURES / "libc_stub.c"],
        "libc.so.6",
        compiler="zig",
        target="powerpc64-linux-none",
        include_python=False,
        soname="libc.so.6",
        extra_args=["-nostdlib"],
    )
    ext = compile_c(
        [FIXTURES / "libc_user.c"],
        "_ext.so",
        compiler="zig",
        target="powerpc64-linux-none",
        include_python=False,
        lib_dirs=[stub.parent],
        libs=[":libc.so.6"],
        extra_args=["-nostdlib"],
    )
    return _ext_wheel(dest, "mwedge_ppc64", tag, ext, ".cpython-311-powerpc64-linux-gnu.so")


def zlib_internal_ext(dest: Path, tag: str) -> Path:
    """An extension importing zcalloc/zcfree from libz.so.1 (auditwheel's testzlib case).

    Linked against a stand-in libz.so.1 that exports them; in the wheel it needs the system
    ``libz.so.1``, which every policy allows, but those two symbols every policy forbids.
    """
    stub = compile_c(
        [FIXTURES / "zlib_stub.c"],
        "libz.so",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        include_python=False,
        soname="libz.so.1",
    )
    ext = compile_c(
        [FIXTURES / "zlib_internal.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        include_python=False,
        lib_dirs=[stub.parent],
        libs=["z"],
    )
    return _ext_wheel(dest, "mwedge_zlib", tag, ext, ".cpython-311-x86_64-linux-gnu.so")


def pyfpe_ext(dest: Path, tag: str) -> Path:
    """An extension importing PyFPE_jbuf from the interpreter (auditwheel's fpewheel case)."""
    ext = compile_c([FIXTURES / "pyfpe.c"], "_ext.so", compiler="gcc", include_python=False)
    return _ext_wheel(dest, "mwedge_pyfpe", tag, ext, ".cpython-35m-x86_64-linux-gnu.so")
