"""What a build was asked for: ``BuildOptions`` (flags or API), merged with ``[tool.mwheel]``.

Flags win over the configuration file, which wins over the defaults. ``--compatibility``
values are checked here, once: ``manylinux_x_y`` and the legacy aliases, ``musllinux_x_y``,
``linux``/``off`` (no audit tag, plain ``linux_<arch>``) and ``pypi`` (the best tag, which
must be one PyPI accepts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mwheel.build.cargo import CargoFlags
from mwheel.build.config import AUDITWHEEL_MODES, BINDINGS, Pyproject, ToolConfig
from mwheel.errors import ConfigError, TagError, UsageError
from mwheel.policies import policy_for
from mwheel.tags import PlatformTag


@dataclass(frozen=True)
class BuildOptions:
    """Arguments of ``build_wheels``; ``None`` means "from [tool.mwheel] or the default"."""

    manifest_path: Path | None = None
    project_dir: Path | None = None  # where pyproject.toml is looked for (default: cwd)
    out_dir: Path | None = None  # default target/wheels under the cargo target dir's parent
    release: bool = False
    profile: str | None = None
    features: tuple[str, ...] = ()
    all_features: bool = False
    no_default_features: bool = False
    target: str | None = None
    interpreters: tuple[str, ...] = ()
    find_interpreter: bool = False
    bindings: str | None = None
    strip: bool = False
    compatibility: tuple[str, ...] = ()
    auditwheel: str | None = None
    zig: bool = False
    sdist: bool = False
    quiet: bool = False
    verbose: bool = False
    locked: bool = False
    frozen: bool = False
    offline: bool = False
    target_dir: Path | None = None
    lib_paths: tuple[Path, ...] = ()
    compresslevel: int | None = None
    extra_cargo_env: tuple[tuple[str, str], ...] = field(default=())
    # PEP 660: the extension goes into the python-source tree, the wheel holds a .pth.
    editable: bool = False


@dataclass(frozen=True)
class Compatibility:
    """The requested tag: ``tag`` is None for auto (best) and for ``linux``/``off``."""

    tag: PlatformTag | None
    plain_linux: bool = False  # linux / off: keep linux_<arch>, nothing to reach
    pypi: bool = False


def parse_compatibility(values: tuple[str, ...], arch: str) -> Compatibility:
    """Check each value; the first names the target (the others must agree on the family)."""
    if not values:
        return Compatibility(None)
    parsed: list[Compatibility] = []
    for value in values:
        v = value.strip().lower()
        if v in ("linux", "off"):
            parsed.append(Compatibility(None, plain_linux=True))
            continue
        if v == "pypi":
            parsed.append(Compatibility(None, pypi=True))
            continue
        try:
            tag = PlatformTag.parse(v if v.endswith(f"_{arch}") else f"{v}_{arch}")
        except TagError:
            raise TagError(f"--compatibility: unknown tag {value!r}") from None
        if tag.family not in ("manylinux", "musllinux") or policy_for(tag) is None:
            raise TagError(f"--compatibility: unknown tag {value!r} (no policy defines {tag.name})")
        parsed.append(Compatibility(tag))
    return parsed[0]


@dataclass(frozen=True)
class Resolved:
    """Options after merging flags, ``[tool.mwheel]`` and defaults."""

    bindings: str | None
    profile: str
    flags: CargoFlags
    strip: bool
    compatibility: tuple[str, ...]
    auditwheel: str
    module_name: str | None
    python_source: Path | None
    tool: ToolConfig
    # for the final crate only (cargo rustc -- ARGS): [tool.*] rustc-args, then the strip
    rustc_args: tuple[str, ...] = ()


def resolve(options: BuildOptions, pyproject: Pyproject, root: Path) -> Resolved:
    tool = pyproject.tool
    if options.bindings is not None and options.bindings not in BINDINGS:
        raise UsageError(f"--bindings: expected one of {', '.join(BINDINGS)}")
    auditwheel = (
        options.auditwheel or tool.auditwheel or ("skip" if tool.skip_auditwheel else "repair")
    )
    if auditwheel not in AUDITWHEEL_MODES:
        raise UsageError(f"--auditwheel: expected one of {', '.join(AUDITWHEEL_MODES)}")
    if options.release and options.profile and options.profile != "release":
        raise UsageError("--release conflicts with --profile " + options.profile)
    profile = options.profile or ("release" if options.release else None) or tool.profile or "dev"
    flags = CargoFlags(
        features=options.features or tool.features,
        all_features=options.all_features or tool.all_features,
        no_default_features=options.no_default_features or tool.no_default_features,
        locked=options.locked or tool.locked,
        frozen=options.frozen or tool.frozen,
        offline=options.offline,
    )
    # Checked before cargo runs: a wrong path would otherwise silently leave the Python
    # package (or the data files) out of the wheel.
    for key, value in (("python-source", tool.python_source), ("data", tool.data)):
        if value and not (root / value).is_dir():
            raise ConfigError(
                f"{pyproject.path}: [tool.mwheel] {key} = {value!r}: "
                f"no such directory {root / value}"
            )
    # Without python-source the python root is maturin's default (mwheel.build.layout): a
    # python/ directory is not guessed, since maturin does not look there either.
    source = root / tool.python_source if tool.python_source else None
    return Resolved(
        bindings=options.bindings or tool.bindings,
        profile=profile,
        flags=flags,
        strip=options.strip or tool.strip,
        compatibility=options.compatibility or tool.compatibility,
        auditwheel=auditwheel,
        module_name=tool.module_name,
        python_source=source,
        tool=tool,
        rustc_args=(
            *tool.rustc_args,
            *(("-C", "strip=symbols") if options.strip or tool.strip else ()),
        ),
    )
