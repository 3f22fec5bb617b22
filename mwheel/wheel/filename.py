"""A wheel's file name (PEP 427) and its compressed tag sets (PEP 425), read without
``packaging.tags``.

``packaging.utils.parse_wheel_filename`` imports ``packaging.tags``, which imports logging,
platform, subprocess and sysconfig to work out the *running* interpreter's tags: about
10 ms of a 100 ms audit of a small wheel, for a reader that only splits a name. mwheel
never asks for the host's tags (the target comes from the wheel), so this module does the
splitting itself. It accepts and refuses the same names as packaging 26.4 with the same
messages, and gives the same name, version (packaging's ``Version``, whose module is light),
build and tags; ``tests/test_wheel_filename.py`` compares the two on edge cases and on
every corpus wheel.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

# PEP 427: the escaped project name is word characters, dots and underscores (non-empty).
_NAME_RE = re.compile(r"^[\w._]+\Z", re.UNICODE)
# PEP 427: a build tag starts with a digit; it sorts by that number, then the rest.
_BUILD_RE = re.compile(r"(\d+)(.*)\Z", re.ASCII)

BuildTag = tuple[()] | tuple[int, str]


class InvalidWheelFilename(ValueError):
    """The file name is not ``{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl``."""


class InvalidTag(ValueError):
    """A tag set has an empty part, an interpreter that is not an identifier, or not three
    components."""


class Tag:
    """One ``interpreter-abi-platform`` triple, lower-cased; hashable and immutable."""

    __slots__ = ("_key",)

    def __init__(self, interpreter: str, abi: str, platform: str) -> None:
        self._key = (interpreter.lower(), abi.lower(), platform.lower())

    @property
    def interpreter(self) -> str:
        return self._key[0]

    @property
    def abi(self) -> str:
        return self._key[1]

    @property
    def platform(self) -> str:
        return self._key[2]

    def __eq__(self, other: object) -> bool:
        return self._key == other._key if isinstance(other, Tag) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return "-".join(self._key)

    def __repr__(self) -> str:
        return f"Tag({str(self)!r})"


def parse_tag(text: str) -> frozenset[Tag]:
    """Every triple of a compressed tag set (``py2.py3-none-any``: two tags)."""
    components = [component.split(".") for component in text.split("-")]
    for parts in components:
        if "" in parts:
            raise InvalidTag(f"Tag {text!r} has an empty component: {'.'.join(parts)!r}")
    if len(components) != 3:
        raise InvalidTag(f"Tag {text!r} must have exactly three components")
    interpreters, abis, platforms = components
    for interpreter in interpreters:
        if not interpreter.isidentifier():
            raise InvalidTag(f"Tag {text!r} has an invalid interpreter: {interpreter!r}")
    return frozenset(Tag(i, a, p) for i in interpreters for a in abis for p in platforms)


def canonical_name(name: str) -> str:
    """PEP 503's normal form: lower case, each run of ``-``, ``_`` and ``.`` one ``-``."""
    dashed = name.lower().replace("_", "-").replace(".", "-")
    while "--" in dashed:  # str methods: no pattern to compile on each start-up
        dashed = dashed.replace("--", "-")
    return dashed


def parse_wheel_filename(filename: str) -> tuple[str, Version, BuildTag, frozenset[Tag]]:
    """(normalised name, version, build tag or ``()``, tags) of a wheel's file name."""
    if not filename.endswith(".whl"):
        raise InvalidWheelFilename(
            f"Invalid wheel filename (extension must be '.whl'): {filename!r}"
        )
    stem = filename[:-4]
    dashes = stem.count("-")
    if dashes not in (4, 5):
        raise InvalidWheelFilename(f"Invalid wheel filename (wrong number of parts): {stem!r}")
    parts = stem.split("-", dashes - 2)
    if "__" in parts[0] or _NAME_RE.match(parts[0]) is None:
        raise InvalidWheelFilename(f"Invalid project name: {stem!r}")
    try:
        version = Version(parts[1])
    except InvalidVersion:
        raise InvalidWheelFilename(f"Invalid wheel filename (invalid version): {stem!r}") from None
    build: BuildTag = ()
    if dashes == 5:
        match = _BUILD_RE.match(parts[2])
        if match is None:
            raise InvalidWheelFilename(f"Invalid build number: {parts[2]} in {stem!r}")
        build = (int(match.group(1)), match.group(2))
    try:
        tags = parse_tag(parts[-1])
    except InvalidTag:
        raise InvalidWheelFilename(
            f"Invalid wheel filename (invalid tag component): {stem!r}"
        ) from None
    return canonical_name(parts[0]), version, build, tags
