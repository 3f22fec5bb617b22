"""``build_wheels``: config -> cargo -> assemble -> the same audit and repair as ``mwheel repair``.

There is no second pipeline: the freshly assembled wheel (tagged for its target:
``linux_<arch>``, ``macosx_<minos>_<arch>``, ``win_<arch>``) is written into a scratch
directory and handed to ``mwheel.repair.repair_wheel`` with the
requested ``--compatibility`` as its target tag and the build scripts' link-search paths as
library paths, so a library a build script links (``cargo:rustc-link-search``) is grafted
exactly as ``mwheel repair --lib-path`` would graft it.

Cross builds are the same pipeline with a ``Target`` other than the host's: the target
interpreters come from shipped facts (``interpreters.cross_interpreters``) and reach pyo3 as
a ``PYO3_CONFIG_FILE``; the audit judges the wheel by the target architecture's policy. A
universal2 build runs cargo once per slice and merges the slices (``fat.merge``). The
tools a build needs are checked before cargo starts (``toolchain``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.build import cargo, fat, toolchain
from mwheel.build.assemble import Layout, WheelSpec, write_wheel
from mwheel.build.bindings import ModuleFiles, cffi, uniffi
from mwheel.build.cargo_env import cargo_env, select_target
from mwheel.build.config import Pyproject, find_manifest
from mwheel.build.interpreters import Interpreter, cross_interpreters, find_interpreters
from mwheel.build.metadata import ProjectMetadata, project_metadata
from mwheel.build.options import BuildOptions, Compatibility, Resolved, parse_compatibility
from mwheel.build.options import resolve as resolve_options
from mwheel.build.pyo3_config import write_config
from mwheel.build.targets import Target
from mwheel.errors import BuildError, OutputError, RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions
from mwheel.tags import names_with_aliases

log = logging.getLogger("mwheel.build")


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
    given = options.manifest_path.resolve() if options.manifest_path is not None else None
    manifest, pyproject = find_manifest(project_dir, given)
    if not manifest.is_file():
        raise BuildError(f"{manifest}: no Cargo.toml found (pass -m/--manifest-path)")
    root = pyproject.path.parent if pyproject.path else manifest.parent
    return manifest, pyproject, root


def _platform_tags(target: Target, compat: Compatibility, mode: str) -> str:
    """The platform part of the assembled wheel's name: the target's own tag (linux_<arch>,
    macosx_*, win_*) unless a compatibility tag is asked for without a repair."""
    if compat.tag is not None and mode != "repair":
        return ".".join(names_with_aliases(compat.tag))
    return target.platform_tag()


def _finish(
    wheel: Path,
    out_dir: Path,
    resolved: Resolved,
    compat: Compatibility,
    opts: BuildOptions,
    lib_paths: tuple[Path, ...],
    target: Target,
) -> Path:
    """Audit / repair the scratch wheel into ``out_dir`` according to ``--auditwheel``."""
    glibc = target.os == "linux" and not target.is_musl and not opts.zig
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
            hint = "; build with --zig to link against an older glibc" if glibc else ""
            raise BuildError(f"{exc.message}{hint}") from None
        assert result.output is not None
        if (
            compat.pypi
            and target.os == "linux"
            and not any(t.startswith(("manylinux", "musllinux")) for t in result.plan.platform_tags)
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
            hint = " (build with --zig for an older glibc)" if glibc else ""
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


def _extension_builds(
    crate: cargo.Crate, opts: BuildOptions, target: Target, native: bool
) -> list[tuple[Interpreter, str, str]]:
    """(interpreter, wheel python-abi tag, module suffix) for each cargo build to run."""
    abi3 = crate.abi3_minimum()
    if native:
        interps = find_interpreters(opts.interpreters, opts.find_interpreter)
        for interp in interps:
            if interp.pointer_bits != target.pointer_width:
                raise BuildError(
                    f"interpreter {interp.executable} is {interp.pointer_bits}-bit, "
                    f"the target {target.triple} is {target.pointer_width}-bit"
                )
    else:
        floor = abi3 if isinstance(abi3, tuple) else None
        interps = cross_interpreters(target, opts.interpreters, opts.find_interpreter, floor)
    builds: list[tuple[Interpreter, str, str]] = []
    abi3_done = False
    for interp in interps:
        if abi3 is not None and interp.implementation == "cpython" and not interp.gil_disabled:
            if abi3_done:
                continue
            minor = abi3[1] if isinstance(abi3, tuple) else interp.version[1]
            builds.append((interp, f"cp3{minor}-abi3", target.abi3_suffix))
            abi3_done = True
        else:
            builds.append((interp, f"{interp.python_tag}-{interp.abi_tag}", interp.ext_suffix))
    return builds


def _pyo3_env(interp: Interpreter, target: Target, config_dir: Path) -> dict[str, str]:
    """How pyo3 learns the target interpreter: run it (native) or read a config file (cross)."""
    env = {"PYO3_BUILD_EXTENSION_MODULE": "1"}
    if interp.executable is not None:
        env["PYO3_PYTHON"] = str(interp.executable)
    else:
        env["PYO3_CONFIG_FILE"] = str(write_config(config_dir, interp, target))
    return env


def _cargo_build(
    crate: cargo.Crate,
    resolved: Resolved,
    opts: BuildOptions,
    *,
    kind: str,
    target: Target,
    explicit: bool,
    env: dict[str, str],
    target_dir: Path | None,
    scratch: Path,
) -> cargo.BuildOutput:
    """One cargo build for ``target``; for universal2 one per slice, merged into fat files."""
    outs = [
        cargo.build(
            crate,
            resolved.flags,
            kind=kind,
            profile=resolved.profile,
            target=triple if explicit else None,
            env=env,
            target_dir=target_dir,
            quiet=opts.quiet,
            verbose=opts.verbose,
            rustc_args=resolved.rustc_args,
        )
        for triple in (target.slices or (target.triple,))
    ]
    if len(outs) == 1:
        return outs[0]
    merged = []
    for art in outs[0].artifacts:
        same = [
            a.path for o in outs for a in o.artifacts if (a.kind, a.name) == (art.kind, art.name)
        ]
        path = fat.merge(same, scratch / "universal2" / art.path.name)
        merged.append(cargo.Artifact(art.kind, art.name, path))
    linked = tuple(dict.fromkeys(p for o in outs for p in o.linked_paths))
    return cargo.BuildOutput(tuple(merged), linked)


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


def _check_bindings(bindings: str, crate: cargo.Crate, manifest: Path) -> None:
    if bindings != "bin" and crate.lib_name is None:
        raise BuildError(
            f"{manifest}: --bindings {bindings} needs a cdylib target "
            '([lib] crate-type = ["cdylib"])'
        )
    if bindings == "bin" and not crate.bins:
        raise BuildError(f"{manifest}: --bindings bin needs a [[bin]] target")


def build_wheels(opts: BuildOptions) -> list[Path]:
    """Build the crate's wheels (one per interpreter, or one abi3/bin/cffi/uniffi wheel)."""
    manifest, pyproject, root = locate_project(opts)
    resolved = resolve_options(opts, pyproject, root)
    toolchain.check_cargo()
    if opts.zig:
        toolchain.check_zig()
    crate = cargo.read_crate(manifest, resolved.flags)
    bindings = resolved.bindings or crate.detect_bindings()
    _check_bindings(bindings, crate, manifest)
    host = host_triple()
    target = select_target(opts.target, host, resolved.compatibility)
    native = target.triple == host
    compat = (
        parse_compatibility(resolved.compatibility, target.tag_arch)
        if target.os == "linux"
        else Compatibility(None)
    )
    meta: ProjectMetadata = project_metadata(crate, pyproject)
    layout = layout_for(resolved, root, crate)
    base_dir = opts.target_dir or crate.target_dir
    out_dir = (opts.out_dir or base_dir / "wheels").resolve()
    plat = _platform_tags(target, compat, resolved.auditwheel)
    env = cargo_env(
        target,
        host,
        compat,
        zig=opts.zig,
        extension=bindings in ("pyo3", "pyo3-ffi"),
        crate_dir=crate.root,
        wrapper_dir=base_dir / "mwheel-zig",
        extra=dict(opts.extra_cargo_env),
    )
    toolchain.check_std(target, {**os.environ, **env})
    # --strip is `-C strip=symbols` for the final crate only (resolved.rustc_args): a
    # profile variable would rebuild every dependency at each toggle.
    # cargo applies the zig linker to host artifacts (build scripts, proc macros) too
    # when host == target: a separate target dir keeps both kinds of build warm.
    target_dir = base_dir / "mwheel-zig" if opts.zig else opts.target_dir
    explicit = bool(opts.target) or opts.zig or not native
    outputs: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mwheel-build-") as tmp:
        scratch = Path(tmp)

        def run(kind: str, extra: dict[str, str]) -> cargo.BuildOutput:
            return _cargo_build(
                crate,
                resolved,
                opts,
                kind=kind,
                target=target,
                explicit=explicit,
                env={**env, **extra},
                target_dir=target_dir,
                scratch=scratch,
            )

        def finish(spec: WheelSpec, out: cargo.BuildOutput) -> None:
            wheel = write_wheel(meta, layout, spec, scratch / "wheels", opts.compresslevel)
            outputs.append(
                _finish(wheel, out_dir, resolved, compat, opts, out.linked_paths, target)
            )

        if bindings == "bin":
            out = run("bin", {})
            natives = tuple(
                (f"{{data}}/scripts/{a.path.name}", a.path, 0o755) for a in out.artifacts
            )
            finish(WheelSpec(f"py3-none-{plat}", natives), out)
        elif bindings in ("cffi", "uniffi"):
            # The declarations (cffi) and the bindgen (uniffi) are checked before cargo runs.
            ffi_py = (
                _cffi_declarations(crate, base_dir, scratch, opts) if bindings == "cffi" else b""
            )
            if bindings == "uniffi":
                uniffi.bindgen_command(crate, opts.target_dir)
            out = run("cdylib", {})
            files = _foreign_module(bindings, crate, layout, out, target, ffi_py, scratch, opts)
            finish(WheelSpec(f"py3-none-{plat}", files.natives, files.files), out)
        else:
            for interp, pyabi, suffix in _extension_builds(crate, opts, target, native):
                out = run("cdylib", _pyo3_env(interp, target, base_dir / "mwheel-pyo3"))
                member = layout.extension_member(suffix)
                spec = WheelSpec(f"{pyabi}-{plat}", ((member, out.artifacts[0].path, 0o755),))
                if opts.editable and layout.python_source is not None:
                    spec = _editable_spec(
                        spec, meta, layout.python_source, member, out.artifacts[0].path
                    )
                finish(spec, out)
    return outputs


def _cffi_declarations(
    crate: cargo.Crate, base_dir: Path, scratch: Path, opts: BuildOptions
) -> bytes:
    """cffi's ``ffi.py`` from the crate's header (found or generated by cbindgen)."""
    header = cffi.find_header(crate.root, base_dir, scratch)
    # cffi's generator is pure Python: any interpreter with cffi writes the same ffi.py.
    python = opts.interpreters[0] if opts.interpreters and not opts.target else sys.executable
    return cffi.generate_ffi(header, python)


def _foreign_module(
    bindings: str,
    crate: cargo.Crate,
    layout: Layout,
    out: cargo.BuildOutput,
    target: Target,
    ffi_py: bytes,
    scratch: Path,
    opts: BuildOptions,
) -> ModuleFiles:
    """The generated Python package around a cffi or uniffi library."""
    # maturin's place for the generated package: inside the mixed project's package, else
    # at the module name (never the pure-extension wrapping of pyo3 modules).
    name = layout.module_name or crate.lib_name or crate.name.replace("-", "_")
    module = layout.extension_member("") if layout.mixed else name.replace(".", "/")
    artifact = out.artifacts[0].path
    if bindings == "cffi":
        library = target.library_file(module.rsplit("/", 1)[-1])
        return cffi.module_files(module, artifact, library, ffi_py)
    # uniffi-bindgen runs on the host: the user's environment, not the target's.
    modules = uniffi.generate(
        crate, artifact, scratch / "uniffi", opts.target_dir, dict(os.environ)
    )
    return uniffi.module_files(module, artifact, target, crate, modules)
