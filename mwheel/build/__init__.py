"""Building wheels from Rust crates: ``build_wheels(BuildOptions) -> list[Path]``.

``build`` = config (``[tool.mwheel]``, flags) -> cargo (JSON messages) -> assemble with the
one wheel writer -> the same ``repair_wheel`` as ``mwheel repair``. The PEP 517 hooks
(``mwheel.build.backend``) and ``mwheel build`` are thin layers over this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mwheel.build.driver import build_wheels
    from mwheel.build.options import BuildOptions

__all__ = ["BuildOptions", "build_wheels"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `mwheel audit` registers the build command's arguments without
    # importing the cargo driver.
    if name == "build_wheels":
        from mwheel.build.driver import build_wheels

        return build_wheels
    if name == "BuildOptions":
        from mwheel.build.options import BuildOptions

        return BuildOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
