"""uniffi bindings: uniffi-bindgen's Python module beside the library it loads.

``uniffi-bindgen generate --library <cdylib> --language python`` reads the metadata the
uniffi macros embed in the built library and writes one ``<namespace>.py`` per uniffi
namespace. The bindgen is found as maturin finds it: a ``uniffi-bindgen`` bin target of the
crate (uniffi with its ``cli`` feature, run with ``cargo run``, built for the host), else a
``uniffi-bindgen`` on PATH (``pip install uniffi-bindgen``). The generated module opens the
library by the name ``[bindings.python] cdylib_name`` of ``uniffi.toml`` gives, else by the
built file's own name, so that is the name it gets in the wheel; ``__init__.py``
re-exports each namespace.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import tomllib

from mwheel.build.bindings import ModuleFiles, package_dir
from mwheel.build.cargo import Crate, cargo_program
from mwheel.build.targets import Target
from mwheel.errors import BuildError, ConfigError


def bindgen_command(crate: Crate, target_dir: Path | None) -> list[str]:
    if "uniffi-bindgen" in crate.bins:
        cmd = [cargo_program(), "run", "-q", "--bin", "uniffi-bindgen"]
        cmd += ["--manifest-path", str(crate.manifest)]
        cmd += ["--target-dir", str(target_dir)] if target_dir else []
        return [*cmd, "--"]
    exe = shutil.which("uniffi-bindgen")
    if exe is None:
        raise BuildError(
            f"{crate.manifest}: uniffi bindings need uniffi-bindgen: add a [[bin]] "
            "uniffi-bindgen to the crate (uniffi with its cli feature) or pip install "
            "uniffi-bindgen"
        )
    return [exe]


def cdylib_name(crate: Crate) -> str | None:
    config = crate.root / "uniffi.toml"
    if not config.is_file():
        return None
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config}: cannot read: {exc}") from None
    name = data.get("bindings", {}).get("python", {}).get("cdylib_name")
    return name if isinstance(name, str) else None


def generate(
    crate: Crate, artifact: Path, out_dir: Path, target_dir: Path | None, env: dict[str, str]
) -> list[Path]:
    """Run uniffi-bindgen on the built library; return the Python files it wrote."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd: Sequence[str] = [
        *bindgen_command(crate, target_dir),
        "generate",
        "--no-format",
        "--language",
        "python",
        "--out-dir",
        str(out_dir),
    ]
    if (crate.root / "uniffi.toml").is_file():
        cmd = [*cmd, "--config", str(crate.root / "uniffi.toml")]
    cmd = [*cmd, "--library", str(artifact)]
    try:
        proc = subprocess.run(
            list(cmd), cwd=crate.root, capture_output=True, text=True, env=env, check=False
        )
    except OSError as exc:
        raise BuildError(f"cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise BuildError(f"{crate.manifest}: uniffi-bindgen failed: {last}")
    written = sorted(out_dir.glob("*.py"))
    if not written:
        raise BuildError(f"{crate.manifest}: uniffi-bindgen wrote no Python module")
    return written


def module_files(
    module_name: str, artifact: Path, target: Target, crate: Crate, modules: list[Path]
) -> ModuleFiles:
    pkg = package_dir(module_name)
    name = cdylib_name(crate)
    library = target.library_file(name) if name else artifact.name
    init = "".join(f"from .{p.stem} import *  # noqa: F403\n" for p in modules)
    return ModuleFiles(
        natives=(
            (f"{pkg}/{library}", artifact, 0o755),
            *((f"{pkg}/{p.name}", p, 0o644) for p in modules),
        ),
        files=((f"{pkg}/__init__.py", init.encode()),),
    )
