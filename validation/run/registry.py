"""Where claims come from: a list of claim modules, each exposing ``CLAIMS: list[Claim]``.

Add a paper's module to :data:`CLAIM_MODULES` to put its claims in ``python -m depthcheck``.
Extra modules (tests, users' own claims) are loaded with ``--module MOD`` on the command line, or
by passing ``modules=`` to :func:`all_claims` / :func:`select`; workers import a claim by
(module name, claim id), so an extra module only has to be importable there too.
"""
from __future__ import annotations

import fnmatch
import importlib
from typing import Iterable

from depthcheck.validation.claims.claim import Claim

__all__ = ["CLAIM_MODULES", "load_module", "entries", "all_claims", "select", "module_of",
           "get_claim"]

#: Claim modules of the suite, in report order.
CLAIM_MODULES: list[str] = [
    "depthcheck.validation.papers.bn_orthogonal",
    "depthcheck.validation.papers.rank_collapse",
    "depthcheck.validation.papers.linear_nets",
    "depthcheck.validation.papers.lcw",
]


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
    """Map claim id -> (module name, claim) over CLAIM_MODULES plus ``modules`` (in order)."""
    names = list(CLAIM_MODULES)
    for m in modules or ():
        if m not in names:
            names.append(m)
    out: dict[str, tuple[str, Claim]] = {}
    for name in names:
        for c in load_module(name):
            if c.id in out:
                raise ValueError(f"claim id {c.id!r} is defined twice (in {out[c.id][0]!r} "
                                 f"and {name!r})")
            out[c.id] = (name, c)
    return out


def all_claims(modules: Iterable[str] | None = None) -> list[Claim]:
    """Every registered claim, in module order then definition order."""
    return [c for _, c in entries(modules).values()]


def _matches(pattern: str, cid: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(cid, pattern)
    return cid.startswith(pattern)


def select(patterns: Iterable[str] | None = None,
           modules: Iterable[str] | None = None) -> list[Claim]:
    """Claims whose id equals, starts with, or glob-matches one of ``patterns`` (all if empty).

    A pattern that matches nothing raises ``ValueError`` listing the known ids.
    """
    table = entries(modules)
    patterns = list(patterns or [])
    if not patterns:
        return [c for _, c in table.values()]
    for p in patterns:
        if not any(_matches(p, cid) for cid in table):
            known = ", ".join(table) or "(none registered)"
            raise ValueError(f"unknown claim id or prefix {p!r}; known claims: {known}")
    return [c for cid, (_, c) in table.items() if any(_matches(p, cid) for p in patterns)]


def module_of(claim_id: str, modules: Iterable[str] | None = None) -> str:
    """Name of the module that defines ``claim_id``."""
    table = entries(modules)
    if claim_id not in table:
        raise ValueError(f"unknown claim id {claim_id!r}; known claims: {', '.join(table)}")
    return table[claim_id][0]


def get_claim(module: str, claim_id: str) -> Claim:
    """The claim ``claim_id`` of ``module`` (what a worker process calls)."""
    for c in load_module(module):
        if c.id == claim_id:
            return c
    raise ValueError(f"claim module {module!r} has no claim {claim_id!r}")
