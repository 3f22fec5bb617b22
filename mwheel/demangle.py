"""C++ symbol names for people: ``_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE...``
becomes ``std::__cxx11::basic_string<...>::...`` in the human report (JSON keeps raw names).

No new dependency: the Itanium C++ ABI's ``__cxa_demangle`` is called through ctypes from the
C++ runtime when this machine has one (libstdc++ on Linux, libc++ on macOS), else
``c++filt`` (binutils) is run once for every name of the report, else names stay raw.
Results are cached: a report repeats the same few names for every policy it checks.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from functools import cache

# A mangled name inside a message: starts a word, may carry clone suffixes (``.cold``);
# the ``@VERSION`` that follows a versioned symbol is not part of it.
MANGLED = re.compile(r"(?<![\w$])_Z[\w$]+(?:\.[\w$]+)*")

_RUNTIMES = ("libstdc++.so.6", "libc++.1.dylib", "libc++.so.1")

_cache: dict[str, str] = {}


def _wrap(runtime: ctypes.CDLL, libc: ctypes.CDLL) -> Callable[[str], str | None]:
    func = runtime.__cxa_demangle
    func.restype = ctypes.c_void_p
    status_p = ctypes.POINTER(ctypes.c_int)
    func.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, status_p]
    free = libc.free
    free.argtypes = [ctypes.c_void_p]
    free.restype = None

    def call(mangled: str) -> str | None:
        status = ctypes.c_int(0)
        out = func(mangled.encode(), None, None, ctypes.byref(status))
        if not out:
            return None
        try:
            text: str = ctypes.string_at(out).decode("utf-8", "replace")
        finally:
            free(out)  # __cxa_demangle returns malloc'ed memory
        return text if status.value == 0 else None

    return call


@cache
def _cxa_demangle() -> Callable[[str], str | None] | None:
    """``__cxa_demangle`` of the first C++ runtime that loads, wrapped; None without one."""
    for name in _RUNTIMES:
        try:
            return _wrap(ctypes.CDLL(name), ctypes.CDLL(None))
        except (OSError, AttributeError):
            continue
    return None


def _cxxfilt(names: list[str]) -> dict[str, str]:
    tool = shutil.which("c++filt")
    if tool is None or not names:
        return {}
    try:
        proc = subprocess.run(
            [tool], input="\n".join(names) + "\n", capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = proc.stdout.splitlines()
    return dict(zip(names, lines, strict=False)) if len(lines) == len(names) else {}


def demangle_all(names: Iterable[str]) -> dict[str, str]:
    """Each name's demangled form (the name itself where it cannot be demangled)."""
    todo = [n for n in dict.fromkeys(names) if n not in _cache]
    if todo:
        call = _cxa_demangle()
        if call is not None:
            found = {n: call(n) or n for n in todo}
        else:
            table = _cxxfilt(todo)
            found = {n: table.get(n, n) for n in todo}
        _cache.update(found)
    return {n: _cache[n] for n in names}


def demangle(name: str) -> str:
    return demangle_all([name])[name]


def demangle_text(text: str) -> str:
    """``text`` with every mangled C++ name in it demangled."""
    names = MANGLED.findall(text)
    if not names:
        return text
    table = demangle_all(names)
    return MANGLED.sub(lambda m: table.get(m.group(0), m.group(0)), text)
