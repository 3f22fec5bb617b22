"""Source distributions (``mwheel sdist``, ``mwheel build --sdist``, PEP 517 ``build_sdist``).

Contents, as maturin lays them out: the files ``cargo package --list --allow-dirty`` names
for the crate and for every local (path) crate it depends on (so ``.gitignore`` and
``package.include/exclude`` are honoured as cargo honours them), pyproject.toml, the
python-source tree, README and license files, ``include`` globs (those for wheels too, and
the ``data`` directory, so the sdist rebuilds the tree's wheel) and PKG-INFO.

Workspaces: the workspace root's Cargo.toml (its ``members`` cut down to the crates shipped)
and Cargo.lock travel, and local crates inside the workspace keep their places. When
pyproject.toml sits below the workspace root (a binding crate in ``crates/py``), the Rust
files are laid out from the workspace root and the Python side from pyproject.toml's
directory, and the shipped pyproject.toml gets a ``manifest-path`` naming the crate's new
place. Local crates outside both are vendored under ``local_dependencies/`` and the
manifests that name them are rewritten. A generated pyproject.toml names mwheel as the
backend when the project has none. The archive is a deterministic ``.tar.gz`` (PEP 625
name, sorted members, fixed owner and SOURCE_DATE_EPOCH times) written atomically.
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

import tomllib

from mwheel import __version__
from mwheel.build import cargo
from mwheel.build.assemble import python_files, walk_files
from mwheel.build.driver import layout_for, locate_project
from mwheel.build.metadata import project_metadata
from mwheel.build.options import BuildOptions
from mwheel.build.options import resolve as resolve_options
from mwheel.errors import BuildError, OutputError

_VENDOR_DIR = "local_dependencies"
_CACHE_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_PATH_RE = re.compile(r'(\bpath\s*=\s*")([^"]+)(")')
_MEMBERS_RE = re.compile(r"^members\s*=\s*\[[^\]]*\]", re.M)
_MANIFEST_RE = re.compile(r'^manifest-path\s*=\s*"[^"]*"', re.M)


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


def _crate_files(base: Path, manifest: Path, python_source: Path | None) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for rel in cargo_package_list(manifest):
        path = manifest.parent / rel
        # is_file skips cargo's generated Cargo.toml.orig / .cargo_vcs_info.json, and a
        # workspace member's Cargo.lock (it lives at the workspace root). pyproject.toml
        # and the python-source tree are the Python side's, laid out from pyproject.toml.
        if (
            path.is_file()
            and path.name != "pyproject.toml"
            and not _is_debris(path, python_source)
            and not (python_source is not None and path.is_relative_to(python_source))
        ):
            files[path.relative_to(base).as_posix()] = path
    return files


def _local_crates(crate: cargo.Crate) -> list[tuple[str, Path]]:
    """(name, directory) of the path crates the build reaches, the crate itself excluded.

    From the resolve graph (normal and build edges, transitively), so a workspace member's
    own path dependencies come too; dev-dependencies are not needed to build a wheel.
    """
    data = crate.metadata
    packages = {p["id"]: p for p in data.get("packages", [])}
    nodes = {n["id"]: n for n in (data.get("resolve") or {}).get("nodes", [])}
    seen: set[str] = set()
    todo = [crate.package_id]
    while todo:
        for dep in nodes.get(todo.pop(), {}).get("deps", []):
            kinds = [k.get("kind") for k in dep.get("dep_kinds", [{}])]
            if dep["pkg"] not in seen and any(k != "dev" for k in kinds):
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    out = []
    for pid in sorted(seen):
        pkg = packages.get(pid)
        if pkg is not None and pkg.get("source") is None:
            out.append((pkg["name"], Path(pkg["manifest_path"]).resolve().parent))
    if not nodes:  # no resolve graph (offline metadata): the direct path dependencies
        out = [
            (d["name"], Path(d["path"]).resolve())
            for d in crate.package.get("dependencies", [])
            if d.get("path")
        ]
    return out


def _rewrite_paths(text: str, base: Path, moves: dict[Path, Path]) -> str:
    """Point ``path = "..."`` entries that name a vendored crate at its new place."""

    def repl(m: re.Match[str]) -> str:
        target = (base / m[2]).resolve()
        if target not in moves:
            return m[0]
        return f"{m[1]}{os.path.relpath(moves[target], base).replace(os.sep, '/')}{m[3]}"

    return _PATH_RE.sub(repl, text)


def _workspace_manifest(ws_root: Path, shipped: set[Path]) -> bytes:
    """The workspace Cargo.toml, its ``members`` cut down to the crates the sdist ships."""
    path = ws_root / "Cargo.toml"
    text = path.read_text(encoding="utf-8")
    members = tomllib.loads(text).get("workspace", {}).get("members", [])
    listed = {m: [p for p in ws_root.glob(m) if (p / "Cargo.toml").is_file()] for m in members}
    if all(p.resolve() in shipped for paths in listed.values() for p in paths):
        return text.encode()
    keep = sorted(p.relative_to(ws_root).as_posix() for p in shipped if p != ws_root)
    new = "members = [" + ", ".join(f'"{m}"' for m in keep) + "]"
    return _MEMBERS_RE.sub(lambda _: new, text, count=1).encode()


def _with_manifest_path(pyproject: Path, manifest_rel: str) -> bytes:
    """pyproject.toml with ``manifest-path`` set, in the table that configures the build."""
    text = pyproject.read_text(encoding="utf-8")
    line = f'manifest-path = "{manifest_rel}"'
    if _MANIFEST_RE.search(text):
        return _MANIFEST_RE.sub(lambda _: line, text, count=1).encode()
    for table in ("[tool.mwheel]", "[tool.maturin]"):
        if m := re.search(rf"^{re.escape(table)}[ \t]*$", text, re.M):
            return (text[: m.end()] + "\n" + line + text[m.end() :]).encode()
    return (text.rstrip("\n") + "\n\n[tool.mwheel]\n" + line + "\n").encode()


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
    ws_root = Path(crate.metadata.get("workspace_root", crate.root)).resolve()
    # Rust files are laid out from the workspace root when pyproject.toml is below it.
    base = ws_root if root.is_relative_to(ws_root) and ws_root != root else root
    if not crate.root.is_relative_to(base):
        raise BuildError(f"{manifest}: the crate is outside the project {root}")
    layout = layout_for(resolved, root, crate)
    members.update(_crate_files(base, manifest, layout.python_source))
    moves: dict[Path, Path] = {}
    shipped = {crate.root}
    for name, dep_root in _local_crates(crate):
        if dep_root.is_relative_to(base):
            members.update(_crate_files(base, dep_root / "Cargo.toml", None))
            shipped.add(dep_root)
            continue
        vendored = f"{_VENDOR_DIR}/{name}"
        for rel in cargo_package_list(dep_root / "Cargo.toml"):
            if (dep_root / rel).is_file():
                members[f"{vendored}/{rel}"] = dep_root / rel
        moves[dep_root] = base / vendored
    if moves:
        for crate_dir in [crate.root, *moves, *(d for d in shipped if d != crate.root)]:
            text = (crate_dir / "Cargo.toml").read_text(encoding="utf-8")
            new_text = _rewrite_paths(text, crate_dir, moves)
            if new_text != text:
                dest = moves.get(crate_dir, crate_dir)
                members[(dest / "Cargo.toml").relative_to(base).as_posix()] = new_text.encode()
    if ws_root != crate.root and ws_root.is_relative_to(base):
        rel = (ws_root / "Cargo.toml").relative_to(base).as_posix()
        members[rel] = _workspace_manifest(ws_root, {d.resolve() for d in shipped})
    lock = ws_root / "Cargo.lock"
    if lock.is_file() and ws_root.is_relative_to(base):
        members[lock.relative_to(base).as_posix()] = lock
    src = layout.python_source
    if src is not None:
        for rel, path in python_files(layout).items():
            members[(src / rel).relative_to(root).as_posix()] = path
    for rel, path in meta.license_files:
        members.setdefault(rel, path)
    readme = pyproject.project.get("readme")
    readme = readme.get("file") if isinstance(readme, dict) else readme
    if isinstance(readme, str) and (root / readme).is_file():
        members[(root / readme).resolve().relative_to(root).as_posix()] = root / readme
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
    if pyproject.path is not None and base != root:
        manifest_rel = manifest.relative_to(base).as_posix()
        members["pyproject.toml"] = _with_manifest_path(pyproject.path, manifest_rel)
    elif pyproject.path is not None:
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
