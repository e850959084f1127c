"""Where claims come from: modules each exposing ``CLAIMS: list[Claim]``.

Three sources, in this order (the report's order):

1. the suite's own papers, :data:`CLAIM_MODULES` (built in: a source checkout finds them without
   installing anything);
2. installed claim packages, through the entry-point group ``depthcheck.claims``
   (:data:`ENTRY_POINT_GROUP`): each entry point names a module, e.g. in a user's pyproject.toml
   ``[project.entry-points."depthcheck.claims"] mypkg = "mypkg.claims"``;
3. modules given explicitly: ``--module MOD`` on the command line, ``modules=`` here.

Workers import a claim by (module name, claim id), so an extra module only has to be importable
there too.

Selection (:func:`select`) by claim id or former id (``Claim.aliases``): an exact id selects
exactly that claim; a group prefix must end at a dot boundary (``bn_orthogonal`` or
``bn_orthogonal.``); ``*?[`` make a pattern a glob (``bn_orthogonal.bounded_*``).
"""
from __future__ import annotations

import fnmatch
import importlib
from importlib.metadata import entry_points
from typing import Iterable

from depthcheck.validation.claims.claim import Claim, NotCheckable

__all__ = ["CLAIM_MODULES", "ENTRY_POINT_GROUP", "plugin_modules", "load_module", "entries",
           "all_claims", "not_checkable", "matches", "select", "module_of", "get_claim", "find_claim"]

#: Claim modules of the suite, in report order.
CLAIM_MODULES: list[str] = [
    "depthcheck.validation.papers.bn_orthogonal",
    "depthcheck.validation.papers.rank_collapse",
    "depthcheck.validation.papers.linear_nets",
    "depthcheck.validation.papers.lcw",
]

#: Entry-point group through which installed packages register claim modules.
ENTRY_POINT_GROUP = "depthcheck.claims"


def plugin_modules() -> list[str]:
    """Modules registered in the entry-point group ``depthcheck.claims``, sorted by entry-point
    name. An entry point must name a module (``"pkg.mod"``), not an attribute."""
    names = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.attr:
            dist = getattr(ep.dist, "name", "?")
            raise ValueError(f"entry point {ep.name!r} = {ep.value!r} of group "
                             f"{ENTRY_POINT_GROUP!r} (distribution {dist!r}) must name a module "
                             f"exposing CLAIMS, not an attribute")
        if ep.module not in names:
            names.append(ep.module)
    return names


def load_module(name: str) -> list[Claim]:
    """Import ``name`` and return its ``CLAIMS`` (validated), with a clear error if it cannot."""
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ValueError(f"claim module {name!r} not found (is it importable on this "
                             f"machine / in PYTHONPATH?)") from exc
        raise
    claims = getattr(mod, "CLAIMS", None)
    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, Claim) for c in claims):
        raise ValueError(f"claim module {name!r} must define CLAIMS as a list of Claim objects")
    return list(claims)


def entries(modules: Iterable[str] | None = None) -> dict[str, tuple[str, Claim]]:
    """Map claim id -> (module name, claim) over CLAIM_MODULES, the entry-point modules and
    ``modules`` (in that order). An id or alias defined twice raises."""
    names = list(CLAIM_MODULES)
    for m in [*plugin_modules(), *(modules or ())]:
        if m not in names:
            names.append(m)
    out: dict[str, tuple[str, Claim]] = {}
    owner: dict[str, str] = {}          # id or alias -> the id that owns it
    for name in names:
        for c in load_module(name):
            for n in (c.id, *c.aliases):
                if n in owner:
                    raise ValueError(f"claim id {n!r} is defined twice (by {owner[n]!r} in "
                                     f"{out[owner[n]][0]!r} and by {c.id!r} in {name!r})")
                owner[n] = c.id
            out[c.id] = (name, c)
    return out


def all_claims(modules: Iterable[str] | None = None) -> list[Claim]:
    """Every registered claim, in module order then definition order.

    Parameters
    ----------
    modules : iterable of str, optional
        Extra importable modules that define ``CLAIMS``, loaded after the suite's
        :data:`CLAIM_MODULES` and the entry-point modules (:func:`plugin_modules`).

    Returns
    -------
    list of Claim
        One entry per claim id (former ids are aliases, not extra entries).

    Raises
    ------
    ValueError
        If a module cannot be imported or does not define ``CLAIMS`` as a list of
        :class:`~depthcheck.validation.claims.claim.Claim`, or if an id or alias is defined
        twice.

    See Also
    --------
    select : the claims chosen by ids, prefixes or globs.

    Examples
    --------
    >>> claims = all_claims()
    >>> claims[0].id
    'bn_orthogonal.isometry_decay'
    >>> len({c.id for c in claims}) == len(claims)
    True
    >>> all_claims(["no_such_module"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: claim module 'no_such_module' not found ...
    """
    return [c for _, c in entries(modules).values()]


def not_checkable(modules: Iterable[str] | None = None) -> list[NotCheckable]:
    """The statements the claim modules list as not checked here (their ``NOT_CHECKABLE``), in
    module order; each names why and the claims that check its closest analogue.

    Examples
    --------
    >>> items = not_checkable()
    >>> all(isinstance(i, NotCheckable) and i.why for i in items)
    True
    """
    names = list(CLAIM_MODULES)
    for m in [*plugin_modules(), *(modules or ())]:
        if m not in names:
            names.append(m)
    known = entries(modules)
    aliases = {n for _, c in known.values() for n in (c.id, *c.aliases)}
    out: list[NotCheckable] = []
    for name in names:
        items = getattr(importlib.import_module(name), "NOT_CHECKABLE", ())
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, NotCheckable)
                                                            for i in items):
            raise ValueError(f"claim module {name!r}: NOT_CHECKABLE must be a list of "
                             f"NotCheckable records")
        for i in items:
            if i.id in aliases:
                raise ValueError(f"{name}: NOT_CHECKABLE id {i.id!r} is also a claim id")
            missing = [c for c in i.instead if c not in aliases]
            if missing:
                raise ValueError(f"{name}: NOT_CHECKABLE {i.id!r} names unknown claims "
                                 f"{missing} in instead")
        out.extend(items)
    return out


def matches(pattern: str, claim: Claim) -> bool:
    """Whether ``pattern`` selects ``claim``: a glob (``*?[``) matching its id or an alias, else
    its id or an alias exactly, else a prefix ending at a dot boundary of one of them."""
    names = (claim.id, *claim.aliases)
    if any(ch in pattern for ch in "*?["):
        return any(fnmatch.fnmatchcase(n, pattern) for n in names)
    prefix = pattern if pattern.endswith(".") else pattern + "."
    return any(n == pattern or n.startswith(prefix) for n in names)


def select(patterns: Iterable[str] | None = None,
           modules: Iterable[str] | None = None) -> list[Claim]:
    """Claims selected by one of ``patterns``, in registry order (all claims if none).

    A pattern selects a claim when (see :func:`matches`) it is a glob (contains ``*``, ``?``
    or ``[``) matching the claim's id or a former id (``Claim.aliases``); else when it equals
    the id or an alias; else when it is a group prefix ending at a dot boundary of one of them
    (``bn_orthogonal`` selects ``bn_orthogonal.isometry_decay`` but ``bn_orth`` selects
    nothing).

    Parameters
    ----------
    patterns : iterable of str, optional
        Claim ids, former ids, group prefixes or globs; None or empty selects every claim.
    modules : iterable of str, optional
        Extra claim modules, as for :func:`all_claims`.

    Returns
    -------
    list of Claim
        The selected claims, each once, in registry order (not in the order of ``patterns``).

    Raises
    ------
    ValueError
        If a pattern is not a non-empty string, or selects no claim (the message lists the
        known ids); or as :func:`all_claims` for the modules.

    Examples
    --------
    >>> [c.id for c in select(["rank_collapse.lemma1_bounds"])]
    ['rank_collapse.lemma1_bounds']
    >>> [c.id for c in select(["seed002.lemma1_bounds"])]       # a former id
    ['rank_collapse.lemma1_bounds']
    >>> [c.id for c in select(["linear_nets.*balance*"])]
    ['linear_nets.balance_invariant', 'linear_nets.relu_balance']
    >>> len(select(["lcw"])) == len([c for c in all_claims() if c.id.startswith("lcw.")])
    True
    >>> select(["bn_orth"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown claim id or prefix 'bn_orth'; known claims: bn_orthogonal.isometry_decay, ...
    """
    table = entries(modules)
    patterns = list(patterns or [])
    if not patterns:
        return [c for _, c in table.values()]
    for p in patterns:
        if not isinstance(p, str) or not p.strip(". "):
            raise ValueError(f"claim pattern must be a non-empty id, prefix or glob, got {p!r}")
        if not any(matches(p, c) for _, c in table.values()):
            known = ", ".join(table) or "(none registered)"
            raise ValueError(f"unknown claim id or prefix {p!r}; known claims: {known}")
    return [c for _, c in table.values() if any(matches(p, c) for p in patterns)]


def _lookup(table: dict[str, tuple[str, Claim]], claim_id: str) -> tuple[str, Claim] | None:
    if claim_id in table:
        return table[claim_id]
    return next(((m, c) for m, c in table.values() if claim_id in c.aliases), None)


def module_of(claim_id: str, modules: Iterable[str] | None = None) -> str:
    """Name of the module that defines ``claim_id`` (an id or a former id)."""
    table = entries(modules)
    hit = _lookup(table, claim_id)
    if hit is None:
        raise ValueError(f"unknown claim id {claim_id!r}; known claims: {', '.join(table)}")
    return hit[0]


def get_claim(module: str, claim_id: str) -> Claim:
    """The claim ``claim_id`` (its id or a former id) of ``module`` (what a worker calls)."""
    for c in load_module(module):
        if c.id == claim_id or claim_id in c.aliases:
            return c
    raise ValueError(f"claim module {module!r} has no claim {claim_id!r}")


def find_claim(claim_id: str, module: str, modules: Iterable[str] | None = None) -> Claim:
    """The claim ``claim_id``: from ``module`` when that still defines it, else from the registry
    (built-in, entry-point and ``modules``): a recorded run stays readable after its claims
    moved to another module or were renamed (former ids are aliases)."""
    try:
        return get_claim(module, claim_id)
    except ValueError:
        pass
    hit = _lookup(entries(modules), claim_id)
    if hit is None:
        raise ValueError(f"claim {claim_id!r} is neither in module {module!r} nor registered; "
                         f"pass its module with --module")
    return hit[1]
