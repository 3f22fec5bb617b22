"""Where the ELF editor puts new strings of the dynamic string table (``.dynstr``).

A string is referenced by the offset of its first byte and ends at the next NUL, so one
NUL-delimited run of bytes may serve several references (``libfoo.so`` can be the tail of
``mylibfoo.so``). A run may be overwritten only when no reference that survives the edit
points anywhere into it; the caller passes every surviving reference (symbol names, version
names, dynamic entries) so that this can be decided exactly, or None when it cannot know
them all, and then nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlacedStrings:
    table: bytes  # the whole new string table
    offsets: dict[str, int]  # where each wanted string is
    moved: bool  # the table no longer fits where it is: it goes to a new segment
    dirty: tuple[int, int]  # the byte range that changed, when it stays in place


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def place_strings(
    table: bytes, wanted: list[str], refs: list[int] | None, freed: list[int], slack: int
) -> PlacedStrings:
    """Place ``wanted`` strings: reuse identical ones, then the runs of ``freed`` strings
    that no entry of ``refs`` points into, then ``slack`` zero bytes after the table;
    otherwise append them all to a copy of the table (``moved``)."""
    offsets: dict[str, int] = {}
    for text in dict.fromkeys(wanted):
        found = table.find(_encode(text) + b"\0")
        if found >= 0:
            offsets[text] = found
            if refs is not None:
                refs.append(found)
    todo = [t for t in dict.fromkeys(wanted) if t not in offsets]
    out = bytearray(table)
    regions: list[list[int]] = []  # [cursor, end] of writable room
    dirty = [len(table), 0]
    if refs is not None:
        used = {table.rfind(b"\0", 0, r) + 1 for r in refs if 0 <= r < len(table)}
        starts = {table.rfind(b"\0", 0, f) + 1 for f in freed if 0 < f < len(table)}
        for start in sorted(starts - used - {0}):
            end = table.find(b"\0", start)
            if end < 0:
                continue
            out[start:end] = bytes(end - start)  # no stale path left behind
            regions.append([start, end + 1])
            dirty = [min(dirty[0], start), max(dirty[1], end)]
        if slack and table.endswith(b"\0"):
            regions.append([len(table), len(table) + slack])
    in_place = dict(offsets)
    grown = bytearray(out)
    for text in todo:
        raw = _encode(text) + b"\0"
        region = next((r for r in regions if r[1] - r[0] >= len(raw)), None)
        if region is None:
            break
        at = region[0]
        region[0] += len(raw)
        if at + len(raw) > len(grown):
            grown.extend(bytes(at + len(raw) - len(grown)))
        grown[at : at + len(raw)] = raw
        in_place[text] = at
        dirty = [min(dirty[0], at), max(dirty[1], at + len(raw))]
    else:
        return PlacedStrings(bytes(grown), in_place, False, (dirty[0], dirty[1]))
    # Not everything fits: a copy of the table with every new string appended.
    for text in todo:
        offsets[text] = len(out)
        out += _encode(text) + b"\0"
    return PlacedStrings(bytes(out), offsets, True, (0, len(out)))
