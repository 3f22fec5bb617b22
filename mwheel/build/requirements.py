"""``Requires-Dist`` values written the way maturin writes them (its PEP 508 normaliser).

maturin 1.16 re-renders each dependency of ``[project]``: the specifier without spaces or
parentheses (``h[x,y] (>=1.0)`` -> ``h[x,y]>=1.0``), ``" ; "`` before the marker, single
quotes, ``python_version`` comparisons as ``python_full_version`` ones (``> '3.9'`` ->
``>= '3.10'``, ``== '3.9'`` -> ``== '3.9.*'``), the marker as an ``or`` of ``and`` groups
with version variables first in each group, and an optional dependency's
``extra == 'name'`` added to every group. The rules
were read off maturin's own METADATA for a table of requirements (see
tests/test_maturin_compat_config.py). A marker this module does not understand (``in``,
``~=``, a value on the left) is kept as the user wrote it: the meaning is the same, only
the spelling differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from mwheel.errors import ConfigError

_ATOM = re.compile(r"""\s*([a-z_]+)\s*(===|==|!=|<=|>=|<|>)\s*(?:'([^']*)'|"([^"]*)")\s*""")
_VERSION_VARS = ("python_full_version", "implementation_version")


@dataclass(frozen=True)
class _Atom:
    var: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.var} {self.op} '{self.value}'"


_Node = _Atom | tuple[str, list["_Node"]]  # ("and" | "or", children)


class _Unsupported(Exception):
    pass


def _parse(text: str) -> _Node:
    pos = 0

    def expr() -> _Node:
        nonlocal pos
        items = [conj()]
        while text.startswith("or", pos) and text[pos + 2 : pos + 3] in (" ", "("):
            pos += 2
            items.append(conj())
        return items[0] if len(items) == 1 else ("or", items)

    def conj() -> _Node:
        nonlocal pos
        items = [atom()]
        while text.startswith("and", pos) and text[pos + 3 : pos + 4] in (" ", "("):
            pos += 3
            items.append(atom())
        return items[0] if len(items) == 1 else ("and", items)

    def atom() -> _Node:
        nonlocal pos
        while text[pos : pos + 1] == " ":
            pos += 1
        if text.startswith("(", pos):
            pos += 1
            node = expr()
            while text[pos : pos + 1] == " ":
                pos += 1
            if not text.startswith(")", pos):
                raise _Unsupported
            pos += 1
            while text[pos : pos + 1] == " ":
                pos += 1
            return node
        m = _ATOM.match(text, pos)
        if m is None:
            raise _Unsupported
        pos = m.end()
        return _python_full_version(_Atom(m[1], m[2], m[3] if m[3] is not None else m[4]))

    node = expr()
    if pos != len(text):
        raise _Unsupported
    return node


def _python_full_version(atom: _Atom) -> _Atom:
    """``python_version`` compares X.Y; the same condition on the full version."""
    if atom.var != "python_version":
        return atom
    parts = atom.value.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise _Unsupported
    major, minor = parts
    following = f"{major}.{int(minor) + 1}"
    op, value = {
        "<": ("<", atom.value),
        ">=": (">=", atom.value),
        "<=": ("<", following),
        ">": (">=", following),
        "==": ("==", f"{atom.value}.*"),
        "!=": ("!=", f"{atom.value}.*"),
    }.get(atom.op, (None, None))
    if op is None or value is None:
        raise _Unsupported
    return _Atom("python_full_version", op, value)


def _dnf(node: _Node) -> list[list[_Atom]]:
    """The marker as an ``or`` of ``and`` groups (maturin's normal form)."""
    if isinstance(node, _Atom):
        return [[node]]
    kind, items = node
    if kind == "or":
        return [group for item in items for group in _dnf(item)]
    groups: list[list[_Atom]] = [[]]
    for item in items:
        groups = [g + h for g in groups for h in _dnf(item)]
    return groups


def _render(groups: list[list[_Atom]]) -> str:
    """Version comparisons first in a group; groups bracketed when there are several."""
    texts = [
        " and ".join(a.render() for a in sorted(g, key=lambda a: a.var not in _VERSION_VARS))
        for g in groups
    ]
    if len(texts) == 1:
        return texts[0]
    return " or ".join(f"({s})" if len(g) > 1 else s for s, g in zip(texts, groups, strict=True))


def requires_dist(requirement: str, extra: str | None = None, where: str = "") -> str:
    """One ``Requires-Dist`` value for a ``[project]`` dependency (of ``extra``, if given)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement as exc:
        raise ConfigError(f"{where}: invalid dependency {requirement!r}: {exc}") from None
    head = requirement.split(";", 1)[0] if req.url is None else requirement.rsplit(";", 1)[0]
    rest = head.strip()[len(req.name) :].strip()
    bracket = re.match(r"\[([^\]]*)\]", rest)
    # Extras in the order written, as maturin keeps them.
    extras = f"[{bracket[1].replace(' ', '')}]" if bracket and req.extras else ""
    if req.url is not None:
        base = f"{req.name}{extras} @ {req.url}"
    else:
        spec = rest[bracket.end() :] if bracket else rest
        base = f"{req.name}{extras}{spec.replace(' ', '').strip('()')}"
    marker_text = requirement.split(";", 1)[1].strip() if ";" in requirement else ""
    if req.url is not None and marker_text:
        marker_text = requirement.rsplit(";", 1)[1].strip()
    if not marker_text and extra is None:
        return base
    try:
        groups = _dnf(_parse(marker_text)) if marker_text else [[]]
        if extra is not None:
            groups = [[*g, _Atom("extra", "==", extra)] for g in groups]
        return f"{base} ; {_render(groups)}"
    except _Unsupported:
        if extra is None:
            return f"{base} ; {marker_text}"
        return f"{base} ; ({marker_text}) and extra == '{extra}'"
