"""``build_wheels``: config -> cargo -> assemble -> the same audit and repair as ``mwheel repair``.

There is no second pipeline: the freshly assembled wheel (tagged ``linux_<arch>``) is
written into a scratch directory and handed to ``mwheel.repair.repair_wheel`` with the
requested ``--compatibility`` as its target tag and the build scripts' link-search paths as
library paths, so a library a build script links (``cargo:rustc-link-search``) is grafted
exactly as ``mwheel repair --lib-path`` would graft it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.build import cargo
from mwheel.build.assemble import Layout, WheelSpec, write_wheel
from mwheel.build.config import Pyproject, load_pyproject
from mwheel.build.interpreters import Interpreter, find_interpreters
from mwheel.build.metadata import ProjectMetadata, project_metadata
from mwheel.build.options import BuildOptions, Compatibility, Resolved, parse_compatibility
from mwheel.build.options import resolve as resolve_options
from mwheel.build.zig import write_wrapper, zig_target
from mwheel.errors import BuildError, OutputError, RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions
from mwheel.tags import names_with_aliases

log = logging.getLogger("mwheel.build")

_ARCH_TAG = {"armv7": "armv7l", "powerpc64le": "ppc64le", "powerpc64": "ppc64"}


def host_triple() -> str:
    rustc = os.environ.get("RUSTC", "rustc")
    try:
        out = subprocess.run([rustc, "-vV"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"cannot run {rustc} -vV: {exc}") from None
    for line in out.splitlines():
        if line.startswith("host:"):
            return line.split(":", 1)[1].strip()
    raise BuildError(f"{rustc} -vV did not name the host target")


def locate_project(options: BuildOptions) -> tuple[Path, Pyproject, Path]:
    """(Cargo.toml, pyproject, project root) from ``-m`` or the project directory."""
    project_dir = (options.project_dir or Path.cwd()).resolve()
    if options.manifest_path is not None:
        manifest = options.manifest_path.resolve()
        pyproject = load_pyproject(manifest.parent / "pyproject.toml")
        if pyproject.path is None:
            # A pyproject.toml elsewhere (the project directory) counts only if its
            # manifest-path names this manifest.
            other = load_pyproject(project_dir / "pyproject.toml")
            mp = other.tool.manifest_path
            if mp and (project_dir / mp).resolve() == manifest:
                pyproject = other
    else:
        pyproject = load_pyproject(project_dir / "pyproject.toml")
        mp = pyproject.tool.manifest_path
        manifest = (project_dir / mp).resolve() if mp else project_dir / "Cargo.toml"
    if not manifest.is_file():
        raise BuildError(f"{manifest}: no Cargo.toml found (pass -m/--manifest-path)")
    root = pyproject.path.parent if pyproject.path else manifest.parent
    return manifest, pyproject, root


def _arch(triple: str) -> str:
    if "-linux-" not in triple:
        raise BuildError(f"target {triple}: mwheel builds Linux wheels only for now")
    arch = triple.split("-", 1)[0]
    return _ARCH_TAG.get(arch, arch)


def _cargo_env(
    resolved: Resolved, opts: BuildOptions, triple: str, compat: Compatibility, scratch: Path
) -> dict[str, str]:
    env = dict(opts.extra_cargo_env)
    # --strip is `-C strip=symbols` for the final crate only (resolved.rustc_args): a
    # profile variable would rebuild every dependency at each toggle.
    if opts.zig:
        # A stable path: cargo fingerprints the linker, so a new path would rebuild all.
        wrapper = write_wrapper(scratch / "mwheel-zig", zig_target(triple, compat.tag))
        key = triple.upper().replace("-", "_")
        env[f"CARGO_TARGET_{key}_LINKER"] = str(wrapper)
        env[f"CC_{triple.replace('-', '_')}"] = str(wrapper)
    return env


def _platform_tags(arch: str, compat: Compatibility, mode: str) -> str:
    """The platform part of the assembled wheel's name: linux_<arch> unless not repairing."""
    if compat.tag is not None and mode != "repair":
        return ".".join(names_with_aliases(compat.tag))
    return f"linux_{arch}"


def _finish(
    wheel: Path,
    out_dir: Path,
    resolved: Resolved,
    compat: Compatibility,
    opts: BuildOptions,
    lib_paths: tuple[Path, ...],
) -> Path:
    """Audit / repair the scratch wheel into ``out_dir`` according to ``--auditwheel``."""
    audit_opts = AuditOptions(lib_paths=lib_paths + opts.lib_paths)
    mode = resolved.auditwheel
    if mode == "repair" and not compat.plain_linux:
        plat = compat.tag.name if compat.tag is not None else "auto"
        try:
            result = repair_wheel(
                wheel,
                out_dir,
                RepairOptions(plat=plat, compresslevel=opts.compresslevel),
                audit_opts,
            )
        except RepairError as exc:
            hint = "" if opts.zig else "; build with --zig to link against an older glibc"
            raise BuildError(f"{exc.message}{hint}") from None
        assert result.output is not None
        if compat.pypi and not any(
            t.startswith(("manylinux", "musllinux")) for t in result.plan.platform_tags
        ):
            result.output.unlink()
            raise BuildError(
                f"{result.output.name}: no manylinux or musllinux tag is "
                "honoured, so PyPI would refuse it"
            )
        return result.output
    if mode in ("check", "warn") and not compat.plain_linux:
        report = audit_wheel(wheel, audit_opts)
        problems = [
            f"{f.member}: {f.message}" if f.member else f.message
            for f in report.findings
            if f.severity == "error"
        ]
        if report.error is not None:
            raise report.error
        if problems and mode == "check":
            hint = "" if opts.zig else " (build with --zig for an older glibc)"
            raise BuildError(
                f"{wheel.name} does not honour its tags: {problems[0]}"
                f"{f' (+{len(problems) - 1} more)' if len(problems) > 1 else ''}"
                f"{hint}"
            )
        for problem in problems:
            log.warning("%s: %s", wheel.name, problem)
    dest = out_dir / wheel.name
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, dest)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write: {exc}") from None
    return dest


def layout_for(resolved: Resolved, root: Path, crate: cargo.Crate) -> Layout:
    # maturin's layout rules live in mwheel.build.layout (owned by the maturin-compat work).
    from mwheel.build.layout import build_layout

    return build_layout(resolved, root, crate)


def _extension_builds(crate: cargo.Crate, opts: BuildOptions) -> list[tuple[Interpreter, str, str]]:
    """(interpreter, wheel python-abi tag, module suffix) for each cargo build to run."""
    interps = find_interpreters(opts.interpreters, opts.find_interpreter)
    abi3 = crate.abi3_minimum()
    builds: list[tuple[Interpreter, str, str]] = []
    abi3_done = False
    for interp in interps:
        if abi3 is not None and interp.implementation == "cpython" and not interp.gil_disabled:
            if abi3_done:
                continue
            minor = abi3[1] if isinstance(abi3, tuple) else interp.version[1]
            builds.append((interp, f"cp3{minor}-abi3", ".abi3.so"))
            abi3_done = True
        else:
            builds.append((interp, f"{interp.python_tag}-{interp.abi_tag}", interp.ext_suffix))
    return builds


def _editable_spec(
    spec: WheelSpec, meta: ProjectMetadata, source: Path, member: str, built: Path
) -> WheelSpec:
    """PEP 660: copy the extension into the source tree; the wheel only points there."""
    dest = source / member
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".mwheel-tmp")
        shutil.copyfile(built, tmp)
        os.replace(tmp, dest)  # a running interpreter may have the old file mapped
    except OSError as exc:
        raise OutputError(f"{dest}: cannot install the extension for an editable: {exc}") from None
    pth = (str(source.resolve()) + "\n").encode()
    return WheelSpec(spec.tag, (), ((f"{meta.dist_name}.pth", pth),), python=False)


def build_wheels(opts: BuildOptions) -> list[Path]:
    """Build the crate's wheels (one per interpreter, or one abi3/bin wheel); return them."""
    manifest, pyproject, root = locate_project(opts)
    resolved = resolve_options(opts, pyproject, root)
    crate = cargo.read_crate(manifest, resolved.flags)
    bindings = resolved.bindings or crate.detect_bindings()
    if bindings == "cffi":
        raise BuildError(f"{manifest}: cffi bindings are not supported yet (use pyo3)")
    if bindings in ("pyo3", "pyo3-ffi") and crate.lib_name is None:
        raise BuildError(
            f"{manifest}: --bindings {bindings} needs a cdylib target "
            '([lib] crate-type = ["cdylib"])'
        )
    if bindings == "bin" and not crate.bins:
        raise BuildError(f"{manifest}: --bindings bin needs a [[bin]] target")
    triple = opts.target or host_triple()
    arch = _arch(triple)
    compat = parse_compatibility(resolved.compatibility, arch)
    meta: ProjectMetadata = project_metadata(crate, pyproject)
    layout = layout_for(resolved, root, crate)
    out_dir = (opts.out_dir or (opts.target_dir or crate.target_dir) / "wheels").resolve()
    plat = _platform_tags(arch, compat, resolved.auditwheel)
    outputs: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mwheel-build-") as tmp:
        scratch = Path(tmp)
        env = _cargo_env(resolved, opts, triple, compat, opts.target_dir or crate.target_dir)
        target = triple if (opts.target or opts.zig) else None
        # cargo applies the zig linker to host artifacts (build scripts, proc macros) too
        # when host == target: a separate target dir keeps both kinds of build warm.
        target_dir = (
            (opts.target_dir or crate.target_dir) / "mwheel-zig" if opts.zig else opts.target_dir
        )
        if bindings == "bin":
            out = cargo.build(
                crate,
                resolved.flags,
                kind="bin",
                profile=resolved.profile,
                target=target,
                env=env,
                target_dir=target_dir,
                quiet=opts.quiet,
                verbose=opts.verbose,
                rustc_args=resolved.rustc_args,
            )
            natives = tuple((f"{{data}}/scripts/{a.name}", a.path, 0o755) for a in out.artifacts)
            wheel = write_wheel(
                meta,
                layout,
                WheelSpec(f"py3-none-{plat}", natives),
                scratch / "wheels",
                opts.compresslevel,
            )
            outputs.append(_finish(wheel, out_dir, resolved, compat, opts, out.linked_paths))
        else:
            for interp, pyabi, suffix in _extension_builds(crate, opts):
                build_env = {
                    **env,
                    "PYO3_PYTHON": str(interp.executable),
                    "PYO3_BUILD_EXTENSION_MODULE": "1",
                }
                out = cargo.build(
                    crate,
                    resolved.flags,
                    kind="cdylib",
                    profile=resolved.profile,
                    target=target,
                    env=build_env,
                    target_dir=target_dir,
                    quiet=opts.quiet,
                    verbose=opts.verbose,
                    rustc_args=resolved.rustc_args,
                )
                member = layout.extension_member(suffix)
                spec = WheelSpec(f"{pyabi}-{plat}", ((member, out.artifacts[0].path, 0o755),))
                if opts.editable and layout.python_source is not None:
                    spec = _editable_spec(
                        spec, meta, layout.python_source, member, out.artifacts[0].path
                    )
                wheel = write_wheel(meta, layout, spec, scratch / "wheels", opts.compresslevel)
                outputs.append(_finish(wheel, out_dir, resolved, compat, opts, out.linked_paths))
    return outputs
