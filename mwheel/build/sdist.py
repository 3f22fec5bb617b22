"""Source distributions (``mwheel sdist``, ``mwheel build --sdist``, PEP 517 ``build_sdist``).

Contents: the files ``cargo package --list --allow-dirty`` names (so ``.gitignore`` and
``package.include/exclude`` are honoured as cargo honours them), pyproject.toml, the
python-source tree, README and license files, ``[tool.mwheel] include`` globs (those for
wheels too, and the ``data`` directory, so the sdist rebuilds the tree's wheel),
local path dependencies vendored under ``local_dependencies/`` (Cargo.toml rewritten to
find them there) and PKG-INFO. A generated pyproject.toml names mwheel as the backend when
the project has none. The archive is a deterministic ``.tar.gz`` (PEP 625 name, sorted
members, fixed owner and SOURCE_DATE_EPOCH times) written atomically.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mwheel import __version__
from mwheel.build import cargo
from mwheel.build.assemble import license_files, python_files, walk_files
from mwheel.build.driver import layout_for, locate_project
from mwheel.build.metadata import project_metadata
from mwheel.build.options import BuildOptions
from mwheel.build.options import resolve as resolve_options
from mwheel.errors import BuildError, OutputError

_VENDOR_DIR = "local_dependencies"
_CACHE_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_PATH_RE = re.compile(r'(\bpath\s*=\s*")([^"]+)(")')


def cargo_package_list(manifest: Path) -> list[str]:
    cmd = [
        cargo.cargo_program(),
        "package",
        "--list",
        "--allow-dirty",
        "--manifest-path",
        str(manifest),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=manifest.parent)
    except OSError as exc:
        raise BuildError(f"cannot run cargo: {exc}") from None
    if proc.returncode != 0:
        last = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise BuildError(
            f"{manifest}: cargo package --list failed: {last[-1] if last else proc.returncode}"
        )
    return [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]


def _is_debris(path: Path, python_source: Path | None) -> bool:
    """Bytecode caches, and extensions that an editable install put into python-source.

    Outside a git checkout (or without a .gitignore) ``cargo package --list`` names every
    file, these too; an sdist carrying them would install a stale binary.
    """
    if any(part in _CACHE_DIRS for part in path.parts) or path.suffix in (".pyc", ".pyo"):
        return True
    return (
        python_source is not None
        and path.suffix in (".so", ".pyd", ".dylib")
        and path.is_relative_to(python_source)
    )


def _crate_files(root: Path, manifest: Path, python_source: Path | None) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for rel in cargo_package_list(manifest):
        path = manifest.parent / rel
        # is_file skips cargo's generated Cargo.toml.orig / .cargo_vcs_info.json.
        if path.is_file() and not _is_debris(path, python_source):
            files[path.relative_to(root).as_posix()] = path
    return files


def _path_dependencies(crate: cargo.Crate) -> list[tuple[str, Path]]:
    out = []
    for dep in crate.package.get("dependencies", []):
        if dep.get("path"):
            out.append((dep["name"], Path(dep["path"]).resolve()))
    return out


def _rewrite_paths(text: str, base: Path, moves: dict[Path, str]) -> str:
    """Point ``path = "..."`` entries that name a vendored crate at its new place."""

    def repl(m: re.Match[str]) -> str:
        target = (base / m[2]).resolve()
        return f"{m[1]}{moves[target]}{m[3]}" if target in moves else m[0]

    return _PATH_RE.sub(repl, text)


def _generated_pyproject(name: str, version: str) -> bytes:
    return (
        f'[build-system]\nrequires = ["mwheel>={__version__}"]\nbuild-backend = "mwheel"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    ).encode()


def sdist_members(options: BuildOptions) -> tuple[str, dict[str, Path | bytes]]:
    """(archive base name, member -> file or bytes), members relative to the top dir."""
    manifest, pyproject, root = locate_project(options)
    resolved = resolve_options(options, pyproject, root)
    crate = cargo.read_crate(manifest, resolved.flags)
    meta = project_metadata(crate, pyproject)
    members: dict[str, Path | bytes] = {}
    try:
        crate.root.relative_to(root)
    except ValueError:
        raise BuildError(f"{manifest}: the crate is outside the project {root}") from None
    layout = layout_for(resolved, root, crate)
    members.update(_crate_files(root, manifest, layout.python_source))
    moves: dict[Path, str] = {}
    for name, dep_root in _path_dependencies(crate):
        vendored = f"{_VENDOR_DIR}/{name}"
        for rel in cargo_package_list(dep_root / "Cargo.toml"):
            if (dep_root / rel).is_file():
                members[f"{vendored}/{rel}"] = dep_root / rel
        moves[dep_root] = os.path.relpath(root / vendored, crate.root).replace(os.sep, "/")
    if moves:
        cargo_rel = manifest.relative_to(root).as_posix()
        text = manifest.read_text(encoding="utf-8")
        members[cargo_rel] = _rewrite_paths(text, crate.root, moves).encode()
    src = layout.python_source
    if src is not None:
        for rel, path in python_files(layout).items():
            members[(src / rel).relative_to(root).as_posix()] = path
    for path in license_files(root):
        members.setdefault(path.name, path)
    readme = pyproject.project.get("readme")
    if isinstance(readme, str) and (root / readme).is_file():
        members[readme] = root / readme
    # Wheel-only globs and the data directory travel too: a wheel built from the sdist must
    # be the wheel built from the tree. Sdist excludes still apply to them.
    for rule in resolved.tool.include:
        for path in sorted(root.glob(rule.path)):
            if path.is_file():
                members[path.relative_to(root).as_posix()] = path
    if layout.data is not None:
        for path in walk_files(layout.data):
            members[path.relative_to(root).as_posix()] = path
    excludes = [r.path for r in resolved.tool.exclude if r.applies_to("sdist")]
    members = {m: v for m, v in members.items() if not any(fnmatch.fnmatch(m, g) for g in excludes)}
    if pyproject.path is not None:
        members["pyproject.toml"] = pyproject.path
    else:
        members["pyproject.toml"] = _generated_pyproject(meta.name, meta.version)
    members["PKG-INFO"] = meta.render()
    return f"{meta.dist_name}-{meta.version}", members


def build_sdist(options: BuildOptions) -> Path:
    base, members = sdist_members(options)
    manifest, _, _ = locate_project(options)
    out_dir = (options.out_dir or manifest.parent / "target" / "wheels").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{base}.tar.gz"
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    fd, tmp_name = tempfile.mkstemp(prefix=".mwheel-sdist-", dir=out_dir)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=epoch) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in sorted(members):
                source = members[name]
                data = source if isinstance(source, bytes) else source.read_bytes()
                info = tarfile.TarInfo(f"{base}/{name}")
                info.size = len(data)
                info.mtime = epoch
                executable = not isinstance(source, bytes) and os.access(source, os.X_OK)
                info.mode = 0o755 if executable else 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp_name, dest)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise OutputError(f"{dest}: cannot write the sdist: {exc}") from None
    return dest
