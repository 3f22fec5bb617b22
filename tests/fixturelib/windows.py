"""Windows wheel fixtures, cross-compiled from ``fixtures/windows`` with zig at test time.

The recipe: a CPython 3.11 extension ``winext/_ext.cp311-<plat>.pyd`` exporting
``PyInit__ext`` and ``ext_value``, importing ``PyLong_FromLong`` from ``python3.dll`` and
``outer_value`` from ``priv_outer.dll``, which imports ``inner_value`` from
``priv_inner.dll``. The two private DLLs stay outside the wheel, in ``lib_dir``: the wheel
is what a build leaves before delvewheel (or ``mwheel repair``) runs.

Why import libraries come from ``.def`` files (``zig dlltool``) rather than from linking
the DLLs: lld, unlike GNU ld, cannot link against a DLL directly, and ``compile_c`` keeps
only the file it was asked for. ``dlltool`` is fast and deterministic, so its outputs are
cached by content like the compiler's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .build import CompileError, cache_root, compile_c, compiler_version
from .wheels import make_wheel

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "windows"

# zig target triple, dlltool machine, wheel platform tag, per architecture.
TARGETS = {
    "x86_64": ("x86_64-windows-gnu", "i386:x86-64", "win_amd64"),
    "x86": ("x86-windows-gnu", "i386", "win32"),
    "arm64": ("aarch64-windows-gnu", "arm64", "win_arm64"),
}
VERSION = "1.0"
EXT_VALUE = 420  # ext_value() = (inner_value() + 2) * 10


@dataclass(frozen=True)
class WindowsFixture:
    """A fixture wheel and the DLLs it needs from outside.

    ``lib_dir`` holds ``priv_outer.dll`` and ``priv_inner.dll`` (pass it as --lib-path).
    ``python_dir`` holds a stand-in ``python3.dll``, for loading the extension under wine.
    """

    wheel: Path
    lib_dir: Path
    python_dir: Path
    arch: str
    extension: str  # the extension's member name
    package: str = "winext"


def import_library(def_file: Path, machine: str) -> Path:
    """``lib<name>.a`` for ``def_file``, made by ``zig dlltool`` and cached by content."""
    key = hashlib.sha256(
        "\0".join([compiler_version("zig"), machine, def_file.read_text()]).encode()
    ).hexdigest()
    name = f"lib{def_file.stem}.a"
    final_dir = cache_root() / "implib" / key
    if (final_dir / name).is_file():
        return final_dir / name
    (cache_root() / "tmp").mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix="implib-", dir=cache_root() / "tmp"))
    try:
        argv = [
            sys.executable,
            "-m",
            "ziglang",
            "dlltool",
            "-d",
            str(def_file),
            "-l",
            str(build / name),
            "-m",
            machine,
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (build / name).is_file():
            raise CompileError(argv, proc.returncode, proc.stderr + proc.stdout)
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            build.rename(final_dir)
        except OSError:
            if not (final_dir / name).is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return final_dir / name


def build_dll(
    source: str, output: str, arch: str, imports: tuple[str, ...] = (), shared: bool = True
) -> Path:
    """Cross-compile ``fixtures/windows/<source>`` linking the DLLs named by ``imports``
    (``.def`` stems); returns the cached output."""
    triple, machine, _ = TARGETS[arch]
    lib_dirs = sorted(
        {import_library(FIXTURES_DIR / f"{stem}.def", machine).parent for stem in imports}
    )
    return compile_c(
        [FIXTURES_DIR / source],
        output,
        compiler="zig",
        target=triple,
        shared=shared,
        include_python=False,
        libs=list(imports),
        lib_dirs=lib_dirs,
    )


def link_delay_outer() -> Path:
    """``priv_outer.dll`` delay-loading ``priv_inner.dll`` (x86_64), linked by lld-link.

    zig's MinGW driver has no delay-load switch, so the object is compiled by ``zig cc``
    and linked by ``zig lld-link /delayload``, without a C runtime (the source brings its
    own entry point and delay-load helper). Cached by the bytes of every input.
    """
    triple, machine, _ = TARGETS["x86_64"]
    obj = compile_c(
        [FIXTURES_DIR / "outer_delay.c"],
        "outer_delay.o",
        compiler="zig",
        target=triple,
        shared=False,
        include_python=False,
        extra_args=["-c"],
    )
    libs = [
        import_library(FIXTURES_DIR / f"{stem}.def", machine) for stem in ("priv_inner", "kernel32")
    ]
    argv = ["/dll", "/entry:DllMain", "/nodefaultlib", "/delayload:priv_inner.dll"]
    material = [
        compiler_version("zig"),
        *argv,
        obj.read_bytes().hex(),
        *(lib.read_bytes().hex() for lib in libs),
    ]
    key = hashlib.sha256("\0".join(material).encode()).hexdigest()
    final = cache_root() / "lld-link" / key / "priv_outer.dll"
    if final.is_file():
        return final
    (cache_root() / "tmp").mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix="lld-link-", dir=cache_root() / "tmp"))
    try:
        cmd = [
            sys.executable,
            "-m",
            "ziglang",
            "lld-link",
            *argv,
            f"/out:{build / 'priv_outer.dll'}",
            str(obj),
            *map(str, libs),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (build / "priv_outer.dll").is_file():
            raise CompileError(cmd, proc.returncode, proc.stderr + proc.stdout)
        for extra in build.iterdir():
            if extra.name != "priv_outer.dll":
                extra.unlink()
        final.parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            build.rename(final.parent)
        except OSError:
            if not final.is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return final


def build_chain(arch: str, *, delay: bool = False, python_dll: str = "python3") -> dict[str, Path]:
    """The extension, its two private DLLs and a stand-in Python DLL, by file name.

    ``delay``: priv_outer.dll delay-loads priv_inner.dll (x86_64 only). ``python_dll``:
    the ``.def`` stem of the Python DLL the extension imports (python3 or python311).
    """
    _, _, plat = TARGETS[arch]
    ext = f"_ext.cp311-{plat}.pyd"
    if delay and arch != "x86_64":
        raise ValueError("the delay-load fixture is built for x86_64 only")
    return {
        "priv_inner.dll": build_dll("inner.c", "priv_inner.dll", arch),
        "priv_outer.dll": link_delay_outer()
        if delay
        else build_dll("outer.c", "priv_outer.dll", arch, ("priv_inner",)),
        ext: build_dll("ext.c", ext, arch, ("priv_outer", python_dll)),
        f"{python_dll}.dll": build_dll("python3_stub.c", f"{python_dll}.dll", arch),
    }


def build_loader(arch: str = "x86_64") -> Path:
    return build_dll("loader.c", "loader.exe", arch, shared=False)


INIT_PY = b'"""The winext test package."""\n\nfrom __future__ import annotations\n\nVALUE = 1\n'


def build_windows_fixture(
    dest_dir: Path,
    arch: str = "x86_64",
    *,
    delay: bool = False,
    python_dll: str = "python3",
    members: dict[str, bytes] | None = None,
    extension: str | None = None,
) -> WindowsFixture:
    """Build the wheel (``winext-1.0-cp311-cp311-<plat>.whl``) and its outside DLLs in
    ``dest_dir``.

    ``members`` replaces the default ``winext/__init__.py``; ``extension`` is where the
    extension goes (default ``winext/_ext.cp311-<plat>.pyd``), for layouts such as a
    top-level extension module or a namespace package.
    """
    _, _, plat = TARGETS[arch]
    built = build_chain(arch, delay=delay, python_dll=python_dll)
    lib_dir = dest_dir / "dlls"
    python_dir = dest_dir / "python"
    for directory, names in (
        (lib_dir, ("priv_outer.dll", "priv_inner.dll")),
        (python_dir, (f"{python_dll}.dll",)),
    ):
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(built[name], directory / name)
    ext_name = f"_ext.cp311-{plat}.pyd"
    extension = extension or f"winext/{ext_name}"
    contents: dict[str, bytes | Path] = dict(
        members if members is not None else {"winext/__init__.py": INIT_PY}
    )
    contents[extension] = built[ext_name]
    wheel = make_wheel(dest_dir / "wheels", "winext", VERSION, f"cp311-cp311-{plat}", contents)
    return WindowsFixture(wheel, lib_dir, python_dir, arch, extension)


# --- delvewheel's view of the corpus wheels, for tests/data/windows_expected.json ---------

DELVEWHEEL = Path("/opt/reftools/bin/delvewheel")
DELVEWHEEL_ARGS = ("show", "--ignore-existing", "--analyze-existing")
_SECTIONS = {
    "will be copied": "copied",
    "already in the wheel": "in_wheel",
    "assumed to be present": "assumed_present",
}


def delvewheel_show(wheel: Path) -> dict[str, list[str]]:
    """What ``delvewheel show --ignore-existing --analyze-existing`` lists for ``wheel``.

    ``--analyze-existing`` makes it read every DLL, not only ``.pyd`` files, as mwheel
    does; ``--ignore-existing`` makes it report DLLs found in the wheel instead of
    planning to copy them again. delvewheel refuses to analyse a wheel it repaired (it
    looks for ``.dist-info/DELVEWHEEL``), so that file is left out of the copy it reads.
    """
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / wheel.name
        with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(copy, "w") as dst:
            for info in src.infolist():
                if not info.filename.endswith(".dist-info/DELVEWHEEL"):
                    dst.writestr(info, src.read(info))
        proc = subprocess.run(
            [str(DELVEWHEEL), *DELVEWHEEL_ARGS, str(copy)],
            capture_output=True,
            text=True,
            check=True,
        )
    out: dict[str, list[str]] = {key: [] for key in _SECTIONS.values()}
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith("The following DLLs"):
            current = next(out[k] for phrase, k in _SECTIONS.items() if phrase in line)
        elif line.startswith("    ") and current is not None:
            name = line.split()[0]
            if name != "None":
                current.append(name.lower())
        elif not line.strip():
            continue
        else:
            current = None
    return {k: sorted(v) for k, v in out.items()}


def write_windows_expected(corpus: Path, dest: Path) -> None:
    """Regenerate ``tests/data/windows_expected.json`` from the corpus cache."""
    wheels = sorted(p.name for p in corpus.glob("*-win*.whl"))
    doc = {
        "command": f"delvewheel {' '.join(DELVEWHEEL_ARGS)} WHEEL "
        "(on a copy without .dist-info/DELVEWHEEL)",
        "delvewheel": subprocess.run(
            [
                str(DELVEWHEEL.parent / "python"),
                "-c",
                "import importlib.metadata as m; print(m.version('delvewheel'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "regenerate": "cd tests && python -c 'from pathlib import Path; "
        "from fixturelib.windows import write_windows_expected as w; "
        'w(Path.home() / ".cache/mwheel-corpus", '
        'Path("data/windows_expected.json"))\'',
        "wheels": {name: delvewheel_show(corpus / name) for name in wheels},
    }
    dest.write_text(json.dumps(doc, indent=2) + "\n")
