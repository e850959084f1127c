"""Shared helpers of the Daneshmand et al. 2020 (arXiv:2003.01652) claims: γ values, number formats,
the detail of a family of statements."""
from __future__ import annotations

import math
from pathlib import Path




def _gamma(v) -> float:
    """Config value of γ: a positive number or the string "inf" (JSON has no infinity)."""
    return math.inf if v in ("inf", math.inf) else float(v)


def _gname(v) -> str:
    return "∞" if _gamma(v) == math.inf else f"{_gamma(v):g}"


def _g(v: float) -> str:
    return f"{v:.4g}"


def _describe(s: dict) -> str:
    """One part of a :class:`~depthcheck.validation.claims.stats.Family` in words."""
    b = s["bound"]
    rel = (f"in [{_g(b[0])}, {_g(b[1])}]" if s["kind"] == "within"
           else f"{'>=' if s['kind'] == 'lower' else '<='} {_g(b[0])}")
    return (f"{s['name']}: {_g(s['statistic'])} CI [{_g(s['ci'][0])}, {_g(s['ci'][1])}] {rel} "
            f"-> {s['decision']}")


def _detail(fam, note: str = "") -> str:
    """The detail sentence of a claim judged as a family of statements at alpha/K each: how many
    PASS, the decisive one (first FAIL, else first INCONCLUSIVE, else the first statement as the
    headline), up to three more non-PASS ones, and ``note``."""
    s = fam.decisive("order")
    parts = fam.parts
    detail = (f"{fam.counts()['PASS']}/{len(parts)} statements PASS (each at level 1 − alpha/"
              f"{len(parts)}); {'decisive' if fam.decision != 'PASS' else 'headline'}: "
              f"{_describe(s)}")
    bad = [_describe(t) for t in parts if t["decision"] != "PASS" and t is not s]
    if bad:
        detail += "; also " + "; ".join(bad[:3]) + (" ..." if len(bad) > 3 else "")
    if note:
        detail += ". " + note
    return detail


def _fig_path(outdir: Path, name: str) -> Path:
    return Path(outdir) / f"seed002_{name}.png"
