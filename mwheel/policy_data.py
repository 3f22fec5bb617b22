"""The JSON data files shipped in ``mwheel/policies/`` (system libraries of Windows and
macOS, the stable ABI, musl's exports), read without importing that package.

``mwheel.policies`` holds the Linux policy loader and its dataclasses, and reaching the files
through ``importlib.resources`` imports tempfile, random and the resource readers: together
about 6 ms of a 100 ms audit of a small Windows or macOS wheel, which needs neither. Files
are read from beside this module; only when they are not on a file system (mwheel imported
from a zip) does the import system's resource reader fetch them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_DIRECTORY = Path(__file__).with_name("policies")


@cache
def load_data(name: str) -> Any:
    """The parsed JSON data file ``name`` of ``mwheel/policies/``, parsed once."""
    try:
        text = (_DIRECTORY / name).read_text("utf-8")
    except OSError:
        from importlib import resources

        text = resources.files("mwheel.policies").joinpath(name).read_text("utf-8")
    return json.loads(text)
