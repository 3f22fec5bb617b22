"""The arguments of ``generate-ci``, light enough for the CLI to import at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CiOptions:
    """Arguments of ``generate-ci github``; empty ``platforms`` means maturin's default."""

    platforms: tuple[str, ...] = ()
    pytest: bool = False
    zig: bool = False  # accepted as maturin's flag: Linux builds always link through zig
    manifest_path: Path | None = None
    project_dir: Path | None = None  # the repository root (default: cwd)
    mwheel_find_links: Path | None = None  # a directory in the repository with mwheel's wheel
