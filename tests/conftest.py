"""Shared test fixtures: the real-wheel corpus cache and helpers to run the CLI in-process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir() or not any(CORPUS.glob("*.whl")):
        pytest.skip(f"corpus cache {CORPUS} is empty: run ../shared/corpus/fetch.sh")
    return CORPUS


def corpus_wheel(corpus: Path, pattern: str) -> Path:
    found = sorted(corpus.glob(pattern))
    if not found:
        pytest.skip(f"no corpus wheel matches {pattern}")
    return found[0]
