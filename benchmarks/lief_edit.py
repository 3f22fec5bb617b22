"""Applies repair edits with lief, for bench_elf_edit.py (run by a venv that has lief).

    python lief_edit.py < edits.json    # [{"path", "soname", "replace", "rpaths"}, ...]

Prints one line per file: the seconds lief took to parse, edit and write it. Renamed
libraries are renamed in the version requirements too, as a repair needs.
"""

from __future__ import annotations

import json
import sys
import time

import lief


def edit(item: dict[str, object]) -> float:
    start = time.perf_counter()
    path = str(item["path"])
    binary = lief.ELF.parse(path)
    renames = dict(item["replace"])  # type: ignore[call-overload]
    for old, new in renames.items():
        binary.get_library(old).name = new
    for req in binary.symbols_version_requirement:
        if req.name in renames:
            req.name = renames[req.name]
    tags = lief.ELF.DynamicEntry.TAG
    if item["soname"]:
        if binary.has(tags.SONAME):
            binary.get(tags.SONAME).name = item["soname"]
        else:
            binary.add(lief.ELF.DynamicSharedObject(str(item["soname"])))
    for tag in (tags.RPATH, tags.RUNPATH):
        while binary.has(tag):
            binary.remove(tag)
    binary.add(lief.ELF.DynamicEntryRunPath(":".join(item["rpaths"])))  # type: ignore[arg-type]
    binary.write(path)
    return time.perf_counter() - start


if __name__ == "__main__":
    for item in json.load(sys.stdin):
        print(edit(item), flush=True)
