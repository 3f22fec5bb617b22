"""Generate ``mwheel/policies/stable_abi.json`` from CPython's ``Misc/stable_abi.toml``.

Why this exists
---------------
A wheel tagged ``cp3X-abi3`` promises that its extension modules use only the
stable ABI as it stood in Python 3.X, so the one binary loads on 3.X and every
later CPython.  The compiler does not enforce that promise: a module built
without ``Py_LIMITED_API`` (or with a too-new value) links against whatever it
likes, and the wheel only breaks at import time on an older interpreter.  The
auditor therefore reads the symbols an extension imports and checks each one
against the list of exported stable-ABI symbols and the version that added it.

CPython keeps that list, by hand, in ``Misc/stable_abi.toml``; a verbatim copy
is committed beside this script as ``tools/stable_abi.toml`` so the facts have
a source anyone can diff against a newer CPython.  This script reduces it to
the linker-visible part and writes a small, sorted JSON file that ships in the
package (the runtime never parses TOML, and stays usable on Python 3.10, which
has no ``tomllib``).

What is kept
------------
* Only ``[function.X]`` and ``[data.X]`` items: they are the names an
  extension's import table can reference.  ``const``, ``macro``, ``typedef`` and
  ``struct`` items exist only in C headers and never appear as symbols.
* Items with ``abi_only = true`` too: they are not part of the limited *API*,
  but they are exported and a limited-API extension references them through
  macros (``_Py_Dealloc``, ``_Py_NoneStruct``, ``_PyArg_ParseTuple_SizeT``...),
  so they are legal imports of an abi3 module.
* ``ifdef`` (a feature macro such as ``MS_WINDOWS``, ``HAVE_FORK``,
  ``USE_STACKCHECK``, ``PY_HAVE_THREAD_NATIVE_ID`` or ``Py_REF_DEBUG``): the
  symbol is exported only where CPython defines that macro, e.g. a symbol behind
  ``MS_WINDOWS`` exists only in ``python3.dll``.
* Every ``added`` version in the file, including those newer than the newest
  released CPython, so a wheel tagged for that version is judged correctly.

``abi3t_excluded`` lists the symbols that the free-threaded stable ABI
(``abi3t``, PEP 803) does not offer, if the TOML records that per item.  The
script accepts the plausible spellings of such a marker (``abi3t = false``,
``free_threaded = false``, ``abi3t_excluded = true``, ``gil_only = true``) and
refuses any other unknown key on a function or data item, so that a future
format change is noticed when the copy is refreshed instead of being dropped
silently.

Usage::

    python tools/make_stable_abi.py [path/to/stable_abi.toml]

The output is ``json.dump(indent=1, sort_keys=True)`` plus a newline, so
running the script twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOML = REPO_ROOT / "tools" / "stable_abi.toml"
DEFAULT_OUTPUT = REPO_ROOT / "mwheel" / "policies" / "stable_abi.json"
SOURCE = "CPython Misc/stable_abi.toml"

# Item kinds that name an exported (linkable) symbol.
SYMBOL_KINDS = ("function", "data")

# Keys that carry no information for the symbol table.
IGNORED_KEYS = frozenset({"added", "ifdef", "abi_only", "doc"})

# Possible per-item markers for the free-threaded stable ABI (PEP 803).
# For these, ``false`` means "not in abi3t".
ABI3T_AVAILABLE_KEYS = frozenset({"abi3t", "free_threaded", "freethreaded"})
# For these, ``true`` means "not in abi3t".
ABI3T_EXCLUDED_KEYS = frozenset({"abi3t_excluded", "gil_only"})

VERSION_RE = re.compile(r"3\.\d+")


class StableAbiError(Exception):
    """The TOML does not have the shape this script understands."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _is_abi3t_excluded(name: str, item: dict[str, Any]) -> bool:
    """Return whether the item says it is unavailable in the free-threaded stable ABI."""
    excluded = False
    for key, value in item.items():
        if key in ABI3T_AVAILABLE_KEYS or key in ABI3T_EXCLUDED_KEYS:
            if not isinstance(value, bool):
                raise StableAbiError(f"{name}: {key} = {value!r} is not a boolean")
            if key in ABI3T_AVAILABLE_KEYS and not value:
                excluded = True
            if key in ABI3T_EXCLUDED_KEYS and value:
                excluded = True
        elif key not in IGNORED_KEYS:
            raise StableAbiError(
                f"{name}: unknown key {key!r}; teach tools/make_stable_abi.py what it means"
            )
    return excluded


def build_table(toml_text: str) -> dict[str, Any]:
    """Reduce the text of ``stable_abi.toml`` to the JSON document that mwheel ships."""
    document = tomllib.loads(toml_text)
    feature_macros = set(document.get("feature_macro", {}))
    symbols: dict[str, dict[str, str]] = {}
    abi3t_excluded: list[str] = []
    for kind in SYMBOL_KINDS:
        items: dict[str, dict[str, Any]] = document.get(kind, {})
        for name, item in items.items():
            where = f"[{kind}.{name}]"
            if name in symbols:
                raise StableAbiError(f"{where}: {name} is also listed as another kind")
            added = item.get("added")
            if not isinstance(added, str) or not VERSION_RE.fullmatch(added):
                raise StableAbiError(f"{where}: added = {added!r} is not a '3.N' version")
            entry = {"added": added, "kind": kind}
            ifdef = item.get("ifdef")
            if ifdef is not None:
                if not isinstance(ifdef, str) or ifdef not in feature_macros:
                    raise StableAbiError(f"{where}: ifdef = {ifdef!r} is not a feature_macro")
                entry["ifdef"] = ifdef
            if _is_abi3t_excluded(where, item):
                abi3t_excluded.append(name)
            symbols[name] = entry
    if not symbols:
        raise StableAbiError("no [function.*] or [data.*] items found")
    return {
        "source": SOURCE,
        "symbols": symbols,
        "abi3t_excluded": sorted(abi3t_excluded),
    }


def render(table: dict[str, Any]) -> str:
    """Serialise deterministically: same input, same bytes."""
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def _summary(table: dict[str, Any]) -> str:
    symbols: dict[str, dict[str, str]] = table["symbols"]
    per_version: dict[str, int] = {}
    for entry in symbols.values():
        per_version[entry["added"]] = per_version.get(entry["added"], 0) + 1
    versions = ", ".join(
        f"{version}: {per_version[version]}" for version in sorted(per_version, key=_version_key)
    )
    return (
        f"{len(symbols)} symbols ({versions}); {len(table['abi3t_excluded'])} excluded from abi3t"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "toml",
        nargs="?",
        type=Path,
        default=DEFAULT_TOML,
        help="CPython's Misc/stable_abi.toml (default: %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the JSON (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        table = build_table(args.toml.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, StableAbiError) as exc:
        print(f"make_stable_abi: {args.toml}: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="\n") as stream:
        stream.write(render(table))
    print(f"wrote {args.output}: {_summary(table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
