"""Building wheels from Rust crates: ``build_wheels(BuildOptions) -> list[Path]``.

``build`` = config (``[tool.mwheel]``, flags) -> cargo (JSON messages) -> assemble with the
one wheel writer -> the same ``repair_wheel`` as ``mwheel repair``. The PEP 517 hooks
(``mwheel.build.backend``) and ``mwheel build`` are thin layers over this.
"""

from __future__ import annotations

from mwheel.build.driver import build_wheels
from mwheel.build.options import BuildOptions

__all__ = ["BuildOptions", "build_wheels"]
