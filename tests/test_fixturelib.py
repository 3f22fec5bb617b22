"""Tests of the fixture builder (tests/fixturelib) itself.

Why these exist: every other test trusts that a fixture named "runpath"
really has an absolute RUNPATH to a directory holding libmwprivate.so, that
"newglibc" really needs GLIBC_2.36, and so on. If a toolchain upgrade or an
edit silently changed that, repair tests would pass or fail for the wrong
reason. So each recipe's promises are checked here with readelf and by
importing the extension in a clean interpreter.
"""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fixturelib import (
    CompileError,
    LinuxFixture,
    build_linux_fixture,
    cache_root,
    compile_c,
    expand_tag,
    make_wheel,
    unpack_wheel,
    wheel_members,
)
from fixturelib.linux import FIXTURES_DIR, placeholder, retarget_paths

TESTS_DIR = Path(__file__).resolve().parent

ALL_RECIPES = [
    "clean",
    "newglibc",
    "runpath",
    "cxx",
    "musl",
    "aarch64",
    "libpath",
    "chain",
    "absrpath",
    "system",
    "newergraft",
    "script",
    "purelib_binary",
    "nobinary",
]
# Built for another libc or architecture: checked with readelf only.
NOT_IMPORTABLE_HERE = ("musl", "aarch64")


# --- helpers ---------------------------------------------------------------


@dataclass
class ElfInfo:
    """What readelf says about one ELF file's dynamic linking."""

    machine: str
    elf_type: str
    needed: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    soname: str | None = None
    versions: set[str] = field(default_factory=set)

    def max_version(self, prefix: str) -> tuple[int, ...]:
        """Highest needed version with ``prefix`` (e.g. "GLIBC_"), as a tuple."""
        found = [
            tuple(int(p) for p in v[len(prefix) :].split("."))
            for v in self.versions
            if v.startswith(prefix) and re.fullmatch(r"[\d.]+", v[len(prefix) :])
        ]
        return max(found, default=())


def readelf(path: Path) -> ElfInfo:
    """Parse ``readelf -h -d -V`` of ``path``."""
    out = subprocess.run(
        ["readelf", "-W", "-h", "-d", "-V", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    machine = re.search(r"^\s*Machine:\s*(.+)$", out, re.M)
    elf_type = re.search(r"^\s*Type:\s*(\S+)", out, re.M)
    assert machine and elf_type, out
    info = ElfInfo(machine=machine.group(1).strip(), elf_type=elf_type.group(1))
    in_needs = False
    for line in out.splitlines():
        tag = re.search(r"\((NEEDED|RUNPATH|RPATH|SONAME)\)\s.*\[(.*)\]", line)
        if tag:
            kind, value = tag.groups()
            if kind == "NEEDED":
                info.needed.append(value)
            elif kind == "SONAME":
                info.soname = value
            else:
                (info.runpath if kind == "RUNPATH" else info.rpath).extend(value.split(":"))
        if line.startswith("Version "):
            in_needs = line.startswith("Version needs section")
        elif in_needs:
            version = re.search(r"Name:\s*(\S+)\s+Flags:", line)
            if version:
                info.versions.add(version.group(1))
    return info


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without anything that would help find libraries."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(extra)
    return env


def run_call(
    fx: LinuxFixture, site: Path, cwd: Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """Import the fixture's module from ``site`` in a fresh interpreter and print ``call``."""
    code = f"import {fx.module}; print(repr({fx.call}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(site), **extra_env),
        check=False,
    )


def only_ext(site: Path, fx: LinuxFixture) -> Path:
    """The one extension module of the fixture's package."""
    (ext,) = (site / fx.module).glob("_ext*.so")
    return ext


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("linux-fixtures")


class _LazyFixtures(dict[str, LinuxFixture]):
    """Recipe -> fixture, each built on first use into its own directory under ``root``.

    Why lazily: running one test builds only what it needs.
    """

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> LinuxFixture:
        fx = build_linux_fixture(name, self.root / name)
        self[name] = fx
        return fx


@pytest.fixture(scope="session")
def built(fixture_root: Path) -> dict[str, LinuxFixture]:
    return _LazyFixtures(fixture_root)


@pytest.fixture(scope="session")
def unpacked(built: dict[str, LinuxFixture], fixture_root: Path) -> dict[str, Path]:
    """A lazily filled map of recipe -> directory holding the unpacked wheel."""

    class _Lazy(dict[str, Path]):
        def __missing__(self, name: str) -> Path:
            site = unpack_wheel(built[name].wheel, fixture_root / "site" / name)
            self[name] = site
            return site

    return _Lazy()


# --- wheels.py -------------------------------------------------------------


def test_expand_tag() -> None:
    assert expand_tag("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64") == [
        "cp311-cp311-manylinux_2_17_x86_64",
        "cp311-cp311-manylinux2014_x86_64",
    ]
    assert expand_tag("py2.py3-none-any") == ["py2-none-any", "py3-none-any"]
    with pytest.raises(ValueError):
        expand_tag("cp311-manylinux_2_17_x86_64")


def test_make_wheel_is_valid_and_deterministic(tmp_path: Path) -> None:
    exe = tmp_path / "tool"
    exe.write_bytes(b"#!/bin/sh\necho hi\n")
    exe.chmod(0o700)
    members: dict[str, bytes | Path] = {
        "my_pkg/__init__.py": b"X = 1\n",
        "my_pkg-2.0.data/scripts/tool": exe,
        "my_pkg/odd,name.txt": b"comma",
    }
    tag = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    first = make_wheel(tmp_path / "a", "My-Pkg", "2.0", tag, members, extra_metadata="Summary: s")
    second = make_wheel(tmp_path / "b", "My-Pkg", "2.0", tag, members, extra_metadata="Summary: s")
    assert first.name == f"my_pkg-2.0-{tag}.whl"
    assert first.read_bytes() == second.read_bytes()

    contents = wheel_members(first)
    wheel_text = contents["my_pkg-2.0.dist-info/WHEEL"].decode()
    assert wheel_text.splitlines() == [
        "Wheel-Version: 1.0",
        "Generator: mwheel-fixturelib (1.0)",
        "Root-Is-Purelib: false",
        "Tag: cp311-cp311-manylinux_2_17_x86_64",
        "Tag: cp311-cp311-manylinux2014_x86_64",
    ]
    metadata = contents["my_pkg-2.0.dist-info/METADATA"].decode()
    assert metadata == "Metadata-Version: 2.1\nName: My-Pkg\nVersion: 2.0\nSummary: s\n"

    rows = list(csv.reader(io.StringIO(contents["my_pkg-2.0.dist-info/RECORD"].decode())))
    recorded = {row[0]: row for row in rows}
    assert set(recorded) == set(contents)
    assert recorded["my_pkg-2.0.dist-info/RECORD"] == ["my_pkg-2.0.dist-info/RECORD", "", ""]
    for name, data in contents.items():
        if name.endswith("/RECORD"):
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert recorded[name][1:] == [f"sha256={digest}", str(len(data))]

    with zipfile.ZipFile(first) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.infolist()[-1].filename.endswith("/RECORD")
    assert modes["my_pkg-2.0.data/scripts/tool"] == 0o755
    assert modes["my_pkg/__init__.py"] == 0o644

    site = unpack_wheel(first, tmp_path / "site")
    assert os.access(site / "my_pkg-2.0.data/scripts/tool", os.X_OK)


def test_make_wheel_purelib_and_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path = make_wheel(tmp_path, "pure", "1.0", "py3-none-any", {}, root_is_purelib=True)
    assert "Root-Is-Purelib: true" in wheel_members(path)["pure-1.0.dist-info/WHEEL"].decode()
    with zipfile.ZipFile(path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


@pytest.mark.parametrize(
    "name", ["/abs.py", "a/../b.py", "a//b.py", "x\\y.py", "pkg-1.0.dist-info/RECORD"]
)
def test_make_wheel_rejects_bad_members(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        make_wheel(tmp_path, "pkg", "1.0", "py3-none-any", {name: b""})


# --- build.py --------------------------------------------------------------


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache for tests that count builds (gcc only: zig would start cold)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("MWHEEL_FIXTURE_CACHE", str(root))
    return root


def test_compile_cache_reuses_outputs(tmp_path: Path, private_cache: Path) -> None:
    src = tmp_path / "src" / "lib.c"
    src.parent.mkdir()
    src.write_text("int f(void) { return 1; }\n")
    first = compile_c([src], "libf.so", compiler="gcc", include_python=False, soname="libf.so")
    assert first.parent.parent == private_cache
    assert re.fullmatch(r"[0-9a-f]{64}", first.parent.name)
    stamp, data = first.stat().st_mtime_ns, first.read_bytes()

    again = compile_c([src], "libf.so", compiler="gcc", include_python=False, soname="libf.so")
    assert again == first
    assert again.stat().st_mtime_ns == stamp
    assert again.read_bytes() == data
    assert readelf(first).soname == "libf.so"
    assert list((private_cache / "tmp").iterdir()) == []

    # Any input change gives a new entry: source bytes, arguments.
    src.write_text("int f(void) { return 2; }\n")
    changed = compile_c([src], "libf.so", compiler="gcc", include_python=False, soname="libf.so")
    assert changed != first
    other_args = compile_c([src], "libf.so", compiler="gcc", include_python=False)
    assert other_args not in (first, changed)
    assert first.read_bytes() == data  # the old entry is untouched


def test_compile_key_covers_linked_private_libraries(tmp_path: Path, private_cache: Path) -> None:
    lib_src = tmp_path / "dep.c"
    use_src = tmp_path / "use.c"
    use_src.write_text("int dep(void);\nint use(void) { return dep(); }\n")
    users = []
    for body in ("int dep(void) { return 1; }\n", "int dep(void) { return 2; }\n"):
        lib_src.write_text(body)
        lib = compile_c([lib_src], "libdep.so", compiler="gcc", include_python=False)
        # Same user argv (same -L dir after copying), different library bytes.
        lib_dir = tmp_path / "libs"
        lib_dir.mkdir(exist_ok=True)
        shutil.copyfile(lib, lib_dir / "libdep.so")
        users.append(
            compile_c(
                [use_src],
                "libuse.so",
                compiler="gcc",
                include_python=False,
                libs=["dep"],
                lib_dirs=[lib_dir],
            )
        )
    assert users[0] != users[1]


def test_compile_error_carries_stderr(tmp_path: Path, private_cache: Path) -> None:
    src = tmp_path / "broken.c"
    src.write_text("int f(void) { return undeclared_thing; }\n")
    with pytest.raises(CompileError) as info:
        compile_c([src], "libbroken.so", compiler="gcc", include_python=False)
    assert "undeclared_thing" in info.value.stderr
    assert "undeclared_thing" in str(info.value)
    assert not any(p.name != "tmp" for p in private_cache.iterdir())


def test_compile_rejects_bad_arguments(tmp_path: Path) -> None:
    src = FIXTURES_DIR / "runpath_lib.c"
    with pytest.raises(ValueError):
        compile_c([src], "out.so", compiler="gcc", target="aarch64-linux-gnu.2.28")
    with pytest.raises(ValueError):
        compile_c([src], "sub/out.so", compiler="gcc")


def test_parallel_builds_agree(tmp_path: Path, private_cache: Path) -> None:
    src = tmp_path / "par.c"
    src.write_text("int par(void) { return 3; }\n")
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from fixturelib.build import compile_c;"
        "print(compile_c([Path(sys.argv[2])], 'libpar.so', compiler='gcc',"
        " include_python=False))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(TESTS_DIR), str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(out.strip())
    assert len(set(results)) == 1
    assert Path(results[0]).is_file()
    assert [p.name for p in private_cache.iterdir() if p.name != "tmp"] == [
        Path(results[0]).parent.name
    ]


def cached_runpath_ext() -> Path:
    """The cached (unpatched) extension of the "runpath" recipe, built with its exact arguments."""
    lib = compile_c(
        [FIXTURES_DIR / "runpath_lib.c"],
        "libmwprivate.so",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        include_python=False,
        soname="libmwprivate.so",
    )
    return compile_c(
        [FIXTURES_DIR / "runpath_ext.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        libs=["mwprivate"],
        lib_dirs=[lib.parent],
        rpath=[placeholder("runpath")],
    )


def test_zig_builds_are_cached_across_fixture_builds(tmp_path: Path) -> None:
    """Rebuilding a recipe reuses the cached objects: nothing is recompiled."""
    first = build_linux_fixture("runpath", tmp_path / "one")
    ext = cached_runpath_ext()
    assert ext.parent.parent == cache_root()
    stamp = ext.stat().st_mtime_ns
    second = build_linux_fixture("runpath", tmp_path / "two")
    assert cached_runpath_ext() == ext
    assert ext.stat().st_mtime_ns == stamp
    assert readelf(ext).runpath == [placeholder("runpath")]
    # Only the patched RUNPATH differs between the two copies.
    member = "mwfix_runpath/_ext.cpython-311-x86_64-linux-gnu.so"
    a = wheel_members(first.wheel)[member]
    b = wheel_members(second.wheel)[member]
    assert len(a) == len(b) == len(ext.read_bytes())
    assert a.replace(str(tmp_path / "one").encode(), b"@") == b.replace(
        str(tmp_path / "two").encode(), b"@"
    )


def test_retarget_paths_checks_its_input() -> None:
    data = cached_runpath_ext().read_bytes()
    patched = retarget_paths(data, {placeholder("runpath"): "/opt/x"})
    assert len(patched) == len(data)
    assert b"/opt/x\0\0" in patched and placeholder("runpath").encode() not in patched
    with pytest.raises(ValueError, match="too long"):
        retarget_paths(data, {placeholder("runpath"): "/" + "y" * 500})
    with pytest.raises(ValueError, match="not found"):
        retarget_paths(data, {placeholder("other"): "/tmp"})
    with pytest.raises(ValueError):
        retarget_paths(b"not an elf file at all" * 4, {"a": "b"})


# --- linux.py recipes ------------------------------------------------------


def test_recipe_names() -> None:
    assert LinuxFixture.names() == ALL_RECIPES
    with pytest.raises(KeyError, match="unknown Linux fixture"):
        build_linux_fixture("nope", Path("/nonexistent"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_RECIPES)
def test_fixture_wheel_is_well_formed(
    name: str, built: dict[str, LinuxFixture], fixture_root: Path
) -> None:
    fx = built[name]
    assert fx.wheel.is_file()
    assert fx.wheel.name == f"mwfix_{name}-1.0-{fx.tag}.whl"
    contents = wheel_members(fx.wheel)
    wheel_text = contents[f"mwfix_{name}-1.0.dist-info/WHEEL"].decode()
    assert [line[5:] for line in wheel_text.splitlines() if line.startswith("Tag: ")] == (
        expand_tag(fx.tag)
    )
    assert f"{fx.module}/__init__.py" in contents
    for lib_dir in fx.lib_dirs:
        assert lib_dir.is_dir() and any(lib_dir.glob("*.so")), lib_dir
        assert lib_dir.is_relative_to(fixture_root / name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [n for n in ALL_RECIPES if n not in ("libpath", *NOT_IMPORTABLE_HERE)]
)
def test_fixture_imports_and_calls(
    name: str,
    built: dict[str, LinuxFixture],
    unpacked: dict[str, Path],
    tmp_path: Path,
) -> None:
    fx = built[name]
    assert fx.importable
    proc = run_call(fx, unpacked[name], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ast.literal_eval(proc.stdout.strip()) == fx.expected


@pytest.mark.slow
def test_libpath_fixture_needs_the_library_path(
    built: dict[str, LinuxFixture], unpacked: dict[str, Path], tmp_path: Path
) -> None:
    fx = built["libpath"]
    without = run_call(fx, unpacked["libpath"], tmp_path)
    assert without.returncode != 0
    assert "libmwpath.so" in without.stderr
    with_path = run_call(
        fx, unpacked["libpath"], tmp_path, LD_LIBRARY_PATH=os.pathsep.join(map(str, fx.lib_dirs))
    )
    assert with_path.returncode == 0, with_path.stderr
    assert ast.literal_eval(with_path.stdout.strip()) == fx.expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "moved", "missing"),
    [
        ("runpath", 0, "libmwprivate.so"),
        ("absrpath", 0, "libmwbuild.so"),
        ("newergraft", 0, "libmwnew.so"),
        ("chain", 0, "libmwouter.so"),
        ("chain", 1, "libmwinner.so"),
    ],
)
def test_moving_lib_dirs_away_breaks_the_fixture(
    name: str, moved: int, missing: str, tmp_path: Path
) -> None:
    """The lib_dirs really are what the loader uses (not the shared cache)."""
    fx = build_linux_fixture(name, tmp_path / "fx")
    site = unpack_wheel(fx.wheel, tmp_path / "site")
    assert run_call(fx, site, tmp_path).returncode == 0
    fx.lib_dirs[moved].rename(tmp_path / "moved-away")
    proc = run_call(fx, site, tmp_path)
    assert proc.returncode != 0
    assert missing in proc.stderr


@pytest.mark.slow
def test_script_fixture_runs(
    built: dict[str, LinuxFixture], unpacked: dict[str, Path], tmp_path: Path
) -> None:
    fx = built["script"]
    assert fx.script == "mwfix-tool"
    exe = unpacked["script"] / "mwfix_script-1.0.data" / "scripts" / fx.script
    assert os.access(exe, os.X_OK)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=clean_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == fx.script_output
    info = readelf(exe)
    assert info.elf_type in ("EXEC", "DYN")
    assert info.needed == ["libmwtool.so", "libc.so.6"]
    assert info.runpath == [str(fx.lib_dirs[0])] and info.rpath == []
    assert info.max_version("GLIBC_") <= (2, 17)
    # Without its RUNPATH directory the tool cannot start.
    fx.lib_dirs[0].rename(tmp_path / "gone")
    try:
        broken = subprocess.run([str(exe)], capture_output=True, text=True, check=False)
        assert broken.returncode != 0 and "libmwtool.so" in broken.stderr
    finally:
        (tmp_path / "gone").rename(fx.lib_dirs[0])


X86_64 = "Advanced Micro Devices X86-64"


@pytest.mark.slow
def test_elf_clean(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    info = readelf(only_ext(unpacked["clean"], built["clean"]))
    assert info.machine == X86_64
    assert info.needed == ["libc.so.6"]
    assert info.runpath == info.rpath == []
    assert (2, 2, 5) <= info.max_version("GLIBC_") <= (2, 17)


@pytest.mark.slow
def test_elf_newglibc(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    fx = built["newglibc"]
    assert "manylinux2014_x86_64" in fx.wheel.name
    info = readelf(only_ext(unpacked["newglibc"], fx))
    assert info.needed == ["libc.so.6"]
    assert "GLIBC_2.36" in info.versions


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "soname"),
    [
        ("runpath", "libmwprivate.so"),
        ("absrpath", "libmwbuild.so"),
        ("newergraft", "libmwnew.so"),
        ("libpath", "libmwpath.so"),
    ],
)
def test_elf_single_private_lib(
    name: str, soname: str, built: dict[str, LinuxFixture], unpacked: dict[str, Path]
) -> None:
    fx = built[name]
    (lib_dir,) = fx.lib_dirs
    assert lib_dir.is_absolute()
    lib = readelf(lib_dir / soname)
    assert lib.soname == soname
    info = readelf(only_ext(unpacked[name], fx))
    assert info.needed == [soname]
    assert info.max_version("GLIBC_") <= (2, 17)
    if name == "absrpath":
        assert info.rpath == [str(lib_dir)] and info.runpath == []
        assert lib_dir.parts[-2] == "build"
    elif name == "libpath":
        assert info.rpath == info.runpath == []
    else:
        assert info.runpath == [str(lib_dir)] and info.rpath == []
    if name == "newergraft":
        assert "GLIBC_2.36" in lib.versions
    else:
        assert lib.max_version("GLIBC_") <= (2, 17)


@pytest.mark.slow
def test_elf_chain(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    fx = built["chain"]
    outer_dir, inner_dir = fx.lib_dirs
    assert outer_dir != inner_dir
    ext = readelf(only_ext(unpacked["chain"], fx))
    assert ext.needed == ["libmwouter.so"] and ext.runpath == [str(outer_dir)]
    outer = readelf(outer_dir / "libmwouter.so")
    assert outer.soname == "libmwouter.so"
    assert outer.needed == ["libmwinner.so"] and outer.runpath == [str(inner_dir)]
    inner = readelf(inner_dir / "libmwinner.so")
    assert inner.soname == "libmwinner.so" and inner.runpath == []
    assert not (outer_dir / "libmwinner.so").exists()
    assert not (inner_dir / "libmwouter.so").exists()


@pytest.mark.slow
def test_elf_cxx(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    info = readelf(only_ext(unpacked["cxx"], built["cxx"]))
    assert "libstdc++.so.6" in info.needed
    assert any(v.startswith("GLIBCXX_3.4") for v in info.versions)
    assert any(v.startswith("CXXABI_") for v in info.versions)
    assert built["cxx"].tag == "cp311-cp311-linux_x86_64"


@pytest.mark.slow
def test_elf_system(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    info = readelf(only_ext(unpacked["system"], built["system"]))
    assert {"libffi.so.8", "libssl.so.3", "libcrypto.so.3"} <= set(info.needed)
    assert info.runpath == info.rpath == []


@pytest.mark.slow
def test_elf_musl(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    fx = built["musl"]
    ext = unpacked["musl"] / "mwfix_musl" / "_ext.cpython-311-x86_64-linux-musl.so"
    info = readelf(ext)
    assert info.machine == X86_64
    assert info.needed == ["libc.so"]
    assert not any(v.startswith("GLIBC_") for v in info.versions)
    assert fx.tag == "cp311-cp311-musllinux_1_2_x86_64" and not fx.importable


@pytest.mark.slow
def test_elf_aarch64(built: dict[str, LinuxFixture], unpacked: dict[str, Path]) -> None:
    fx = built["aarch64"]
    ext = unpacked["aarch64"] / "mwfix_aarch64" / "_ext.cpython-311-aarch64-linux-gnu.so"
    info = readelf(ext)
    assert info.machine == "AArch64"
    assert info.needed == ["libc.so.6"]
    assert (2, 17) <= info.max_version("GLIBC_") <= (2, 28)
    assert fx.tag == "cp311-cp311-manylinux_2_28_aarch64" and not fx.importable


@pytest.mark.slow
def test_purelib_binary_and_nobinary(built: dict[str, LinuxFixture]) -> None:
    pure = wheel_members(built["purelib_binary"].wheel)
    assert b"Root-Is-Purelib: true" in pure["mwfix_purelib_binary-1.0.dist-info/WHEEL"]
    assert any(name.endswith(".so") for name in pure)
    nobin = wheel_members(built["nobinary"].wheel)
    assert b"Root-Is-Purelib: false" in nobin["mwfix_nobinary-1.0.dist-info/WHEEL"]
    assert all(not data.startswith(b"\x7fELF") for data in nobin.values())
    assert {n for n in nobin if not n.startswith("mwfix_nobinary-1.0.dist-info/")} == {
        "mwfix_nobinary/__init__.py",
        "mwfix_nobinary/core.py",
    }
