"""Named macOS wheel fixtures, cross-compiled from ``fixtures/macos`` with zig at test time.

Each recipe yields a wheel holding a CPython 3.11 extension for macOS whose dynamic-linking
situation is one a repair must handle: a private dylib linked by an absolute install name;
one built for a newer macOS (13.0) than the extension (11.0); a universal2 pair; a
universal2 extension whose dylib exists only for arm64; a chain through @rpath and an
absolute LC_RPATH; a bare install name that only ``--lib-path`` finds, in a normal header
and in headers with no padding left (``-headerpad,0``, arm64 and x86_64: the repair must
make room).

Targets: zig accepts ``<arch>-macos.<major>.<minor>`` and writes that version as the
``minos`` of LC_BUILD_VERSION (arm64, 11.0 and 13.0) or of LC_VERSION_MIN_MACOSX
(x86_64, 10.12). Fat (universal2) files are assembled here from two thin slices, as
``lipo -create`` does: a big-endian fat header, each slice aligned to 2^14 (arm64) or
2^12 (x86_64) bytes.

Why placeholders: compiled objects live in the shared cache (``build.py``) and must not
depend on a test's temporary directory, yet the point of most recipes is an absolute
install name or LC_RPATH naming a directory that really holds the library. So objects are
linked with a long placeholder directory, and each copy installed for a test has every
load-command string containing it rewritten in place (padded with NULs) to the real one.
The rewrite leaves zig's ad-hoc signature stale, as any post-link edit would; a repair
re-signs what it modifies.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .build import compile_c
from .wheels import make_wheel

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "macos"
ARM64_11 = "aarch64-macos.11.0"
ARM64_13 = "aarch64-macos.13.0"
X86_64_1012 = "x86_64-macos.10.12"
EXT_SUFFIX = ".cpython-311-darwin.so"
VERSION = "1.0"
_PLACEHOLDER_LEN = 200
_UNDEFINED = "-Wl,-undefined,dynamic_lookup"
_FAT_ALIGN = {0x0100000C: 14, 0x01000007: 12}  # CPU_TYPE_ARM64, CPU_TYPE_X86_64


@dataclass(frozen=True)
class MacFixture:
    """A fixture wheel, where its external dylibs are, and what a repair should make of it.

    ``repaired_tag`` is the platform tag ``mwheel repair`` must produce (without
    ``--require-archs``); ``grafts`` the leaf names it must copy into ``<package>/.dylibs``.
    """

    wheel: Path
    lib_dirs: list[Path]
    extension: str  # member name of the extension
    tag: str  # the platform tag the wheel claims
    repaired_tag: str
    grafts: tuple[str, ...] = ()
    package: str = ""


def placeholder(role: str) -> str:
    head = f"/mwfix-macos-placeholder-{role}-"
    return head + "x" * (_PLACEHOLDER_LEN - len(head))


def _slices(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each slice: the fat_arch entries, or the whole thin file."""
    if data[:4] == b"\xca\xfe\xba\xbe":
        count = struct.unpack_from(">I", data, 4)[0]
        return [struct.unpack_from(">8xII", data, 8 + 20 * i) for i in range(count)]
    return [(0, len(data))]


def retarget(data: bytes, mapping: Mapping[str, str]) -> bytes:
    """Replace placeholder directories inside the load-command strings of every slice.

    Only little-endian 64-bit slices (all that zig makes here). Each NUL-terminated string
    of the load-command area that contains a placeholder is rewritten in place, padded
    with NULs, so no command changes size.
    """
    out = bytearray(data)
    found: set[str] = set()
    for base, _size in _slices(data):
        if data[base : base + 4] != b"\xcf\xfa\xed\xfe":
            raise ValueError("only little-endian 64-bit Mach-O slices are supported")
        sizeofcmds = struct.unpack_from("<I", data, base + 20)[0]
        start, end = base + 32, base + 32 + sizeofcmds
        for old, new in mapping.items():
            needle = old.encode()
            at = data.find(needle, start, end)
            while at >= 0:
                stop = data.index(b"\0", at)
                text = data[at:stop].replace(needle, new.encode())
                if len(text) > stop - at:
                    raise ValueError(f"{new!r} is longer than its placeholder")
                out[at:stop] = text.ljust(stop - at, b"\0")
                found.add(old)
                at = data.find(needle, stop, end)
    missing = set(mapping) - found
    if missing:
        raise ValueError(f"placeholders not found in the load commands: {sorted(missing)}")
    return bytes(out)


def make_fat(thin: Sequence[bytes]) -> bytes:
    """A fat (universal) file holding ``thin`` slices, in order, as ``lipo -create`` would."""
    entries, body = [], bytearray()
    pos = 8 + 20 * len(thin)
    for blob in thin:
        cputype, cpusubtype = struct.unpack_from("<iI", blob, 4)
        align = _FAT_ALIGN.get(cputype, 12)
        offset = (pos + (1 << align) - 1) >> align << align
        body += bytes(offset - pos) + blob
        entries.append(struct.pack(">iIIII", cputype, cpusubtype, offset, len(blob), align))
        pos = offset + len(blob)
    return struct.pack(">II", 0xCAFEBABE, len(thin)) + b"".join(entries) + bytes(body)


def _src(name: str) -> list[Path]:
    return [FIXTURES_DIR / name]


def dylib(
    source: str, leaf: str, target: str, install_name: str, extra: Sequence[str] = ()
) -> Path:
    """A cached dylib with the given install name (LC_ID_DYLIB)."""
    return compile_c(
        _src(source),
        leaf,
        compiler="zig",
        target=target,
        include_python=False,
        extra_args=[f"-Wl,-install_name,{install_name}", *extra],
    )


def extension(
    source: str, target: str, libs: Sequence[Path] = (), extra: Sequence[str] = ()
) -> Path:
    """A cached extension linking ``libs`` (cached dylibs, each ``lib<stem>.dylib``)."""
    return compile_c(
        _src(source),
        "_ext.so",
        compiler="zig",
        target=target,
        include_python=False,
        libs=[p.name.removeprefix("lib").removesuffix(".dylib") for p in libs],
        lib_dirs=[p.parent for p in libs],
        extra_args=[_UNDEFINED, *extra],
    )


def install(data: bytes | Path, dest: Path, mapping: Mapping[str, Path] | None = None) -> Path:
    """Write ``data`` (retargeted) to ``dest``, mode 0o755."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    if mapping:
        raw = retarget(raw, {k: str(v) for k, v in mapping.items()})
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(raw)
    dest.chmod(0o755)
    return dest


def _wheel(dest_dir: Path, pkg: str, tag: str, ext: bytes, ext_dir: str = "") -> tuple[Path, str]:
    member = f"{pkg}/{ext_dir}_ext{EXT_SUFFIX}"
    with tempfile.TemporaryDirectory(prefix=".stage-", dir=dest_dir) as stage:
        staged = install(ext, Path(stage) / "_ext.so")
        members: dict[str, bytes | Path] = {f"{pkg}/__init__.py": b"", member: staged}
        if ext_dir:
            members[f"{pkg}/{ext_dir}__init__.py"] = b""
        return make_wheel(dest_dir, pkg, VERSION, f"cp311-cp311-{tag}", members), member


def _one_dep(
    dest_dir: Path,
    role: str,
    *,
    lib_target: str,
    ext_targets: Sequence[str],
    host_lib_targets: Sequence[str],
    tag: str,
    repaired: str,
    bare: bool = False,
    extra: Sequence[str] = (),
) -> MacFixture:
    """dep_ext linking dep_lib (leaf libmw<role>.dylib) by an absolute or bare install name.

    ``ext_targets`` are the extension's slices; the dylib is built for each of them (the
    linker needs one per slice) but only ``host_lib_targets`` slices are installed.
    """
    leaf = f"libmw{role}.dylib"
    name = leaf if bare else f"{placeholder(role)}/{leaf}"
    lib_dir = dest_dir / f"{role}-libs"
    # lib_target replaces the arm64 11.0 target of the dylib (the "newer" recipe: 13.0).
    built = {
        t: dylib("dep_lib.c", leaf, lib_target if t == ARM64_11 else t, name)
        for t in dict.fromkeys([*ext_targets, *host_lib_targets])
    }
    exts = [extension("dep_ext.c", t, [built[t]], extra).read_bytes() for t in ext_targets]
    mapping = {} if bare else {placeholder(role): str(lib_dir)}
    host = [built[t].read_bytes() for t in host_lib_targets]
    install(
        host[0] if len(host) == 1 else make_fat(host),
        lib_dir / leaf,
        {k: Path(v) for k, v in mapping.items()},
    )
    ext = exts[0] if len(exts) == 1 else make_fat(exts)
    pkg = f"mwfix_{role}"
    wheel, member = _wheel(dest_dir, pkg, tag, retarget(ext, mapping) if mapping else ext)
    return MacFixture(wheel, [lib_dir], member, tag, repaired, (leaf,), pkg)


def _chain(dest_dir: Path) -> MacFixture:
    """ext (in a subpackage) -> libmwouter (absolute) -> @rpath/libmwinner (absolute rpath)."""
    inner_dir, outer_dir = dest_dir / "chain-libs" / "inner", dest_dir / "chain-libs" / "outer"
    inner = dylib("chain_inner.c", "libmwinner.dylib", ARM64_11, "@rpath/libmwinner.dylib")
    outer_name = f"{placeholder('chain-outer')}/libmwouter.dylib"
    outer = compile_c(
        _src("chain_outer.c"),
        "libmwouter.dylib",
        compiler="zig",
        target=ARM64_11,
        include_python=False,
        libs=["mwinner"],
        lib_dirs=[inner.parent],
        extra_args=[f"-Wl,-install_name,{outer_name}", f"-Wl,-rpath,{placeholder('chain-inner')}"],
    )
    ext = extension("chain_ext.c", ARM64_11, [outer])
    install(inner, inner_dir / "libmwinner.dylib")
    install(
        outer,
        outer_dir / "libmwouter.dylib",
        {placeholder("chain-outer"): outer_dir, placeholder("chain-inner"): inner_dir},
    )
    data = retarget(ext.read_bytes(), {placeholder("chain-outer"): str(outer_dir)})
    tag = "macosx_11_0_arm64"
    wheel, member = _wheel(dest_dir, "mwfix_chain", tag, data, ext_dir="sub/")
    return MacFixture(
        wheel,
        [outer_dir, inner_dir],
        member,
        tag,
        tag,
        ("libmwouter.dylib", "libmwinner.dylib"),
        "mwfix_chain",
    )


def build_macos_fixture(name: str, dest_dir: Path) -> MacFixture:
    """Build recipe ``name`` (see ``RECIPES``) into ``dest_dir``."""
    dest_dir = dest_dir.resolve()
    dest_dir.mkdir(parents=True, exist_ok=True)
    u2 = (X86_64_1012, ARM64_11)
    if name == "clean":
        tag = "macosx_11_0_arm64"
        wheel, member = _wheel(
            dest_dir, "mwfix_clean", tag, extension("clean_ext.c", ARM64_11).read_bytes()
        )
        return MacFixture(wheel, [], member, tag, tag, (), "mwfix_clean")
    if name == "absolute":
        return _one_dep(
            dest_dir,
            "absolute",
            lib_target=ARM64_11,
            ext_targets=[ARM64_11],
            host_lib_targets=[ARM64_11],
            tag="macosx_11_0_arm64",
            repaired="macosx_11_0_arm64",
        )
    if name == "newer":
        return _one_dep(
            dest_dir,
            "newer",
            lib_target=ARM64_13,
            ext_targets=[ARM64_11],
            host_lib_targets=[ARM64_11],
            tag="macosx_11_0_arm64",
            repaired="macosx_13_0_arm64",
        )
    if name == "universal2":
        return _one_dep(
            dest_dir,
            "universal2",
            lib_target=ARM64_11,
            ext_targets=u2,
            host_lib_targets=u2,
            tag="macosx_10_12_universal2",
            repaired="macosx_10_12_universal2",
        )
    if name == "thin":
        return _one_dep(
            dest_dir,
            "thin",
            lib_target=ARM64_11,
            ext_targets=u2,
            host_lib_targets=[ARM64_11],
            tag="macosx_10_12_universal2",
            repaired="macosx_11_0_arm64",
        )
    if name == "libpath":
        return _one_dep(
            dest_dir,
            "libpath",
            lib_target=ARM64_11,
            ext_targets=[ARM64_11],
            host_lib_targets=[ARM64_11],
            tag="macosx_11_0_arm64",
            repaired="macosx_11_0_arm64",
            bare=True,
        )
    if name == "tight":
        return _one_dep(
            dest_dir,
            "tight",
            lib_target=ARM64_11,
            ext_targets=[ARM64_11],
            host_lib_targets=[ARM64_11],
            tag="macosx_11_0_arm64",
            repaired="macosx_11_0_arm64",
            bare=True,
            extra=["-Wl,-headerpad,0"],
        )
    if name == "tight_x86_64":
        return _one_dep(
            dest_dir,
            "tightx",
            lib_target=X86_64_1012,
            ext_targets=[X86_64_1012],
            host_lib_targets=[X86_64_1012],
            tag="macosx_10_12_x86_64",
            repaired="macosx_10_12_x86_64",
            bare=True,
            extra=["-Wl,-headerpad,0"],
        )
    if name == "chain":
        return _chain(dest_dir)
    raise KeyError(f"unknown macOS fixture {name!r}; known: {', '.join(RECIPES)}")


RECIPES = (
    "clean",
    "absolute",
    "newer",
    "universal2",
    "thin",
    "libpath",
    "tight",
    "tight_x86_64",
    "chain",
)
