"""The struct-based PE reader against pefile, the independent oracle, on real DLLs.

Compared on every PE member of the corpus's Windows wheels: imported and delay-imported
DLLs, and every imported name (or ordinal) per DLL.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pefile
import pytest

from mwheel.binary.pe import read_pe


def oracle(data: bytes) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    pe: Any = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(directories=[1, 13])
    lists: tuple[list[str], list[str]] = ([], [])
    symbols: list[tuple[str, str]] = []
    for names, attr in zip(
        lists, ("DIRECTORY_ENTRY_IMPORT", "DIRECTORY_ENTRY_DELAY_IMPORT"), strict=True
    ):
        for entry in getattr(pe, attr, ()):
            dll = entry.dll.decode("latin-1")
            if dll not in names:
                names.append(dll)
            for imp in entry.imports:
                name = (
                    f"#{imp.ordinal}"
                    if imp.import_by_ordinal or not imp.name
                    else imp.name.decode("utf-8", "replace")
                )
                symbols.append((name, dll))
    return lists[0], lists[1], symbols


@pytest.mark.corpus
def test_corpus_pe_files_match_pefile(corpus: Path) -> None:
    checked = 0
    for wheel in sorted(corpus.glob("*win*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if not info.filename.lower().endswith((".pyd", ".dll")):
                    continue
                data = zf.read(info)
                b = read_pe(info.filename, data)
                assert b.pe is not None
                imports, delay, symbols = oracle(data)
                assert list(b.pe.imports) == imports, info.filename
                assert list(b.pe.delay_imports) == delay, info.filename
                assert [(s.name, s.library) for s in b.imported] == symbols, info.filename
                checked += 1
    assert checked > 50
