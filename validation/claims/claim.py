"""The claim interface: one theorem of a source paper as an executable, statistically judged check.

A claim module (e.g. ``depthcheck.validation.papers.bn_orthogonal``) exposes ``CLAIMS: list[Claim]``. The runner
(:mod:`depthcheck.validation.run.runner`) turns every claim into independent tasks and calls, for the claim and
for its negative control alike::

    cfg       = claim.config(mode, control)                  # quick/full dict, control overrides applied
    evidence  = claim.simulate(cfg, rng, n_trials, backend)  # once per chunk of trials
    pred      = claim.predict(cfg)                           # theory
    verdict   = claim.judge(cfg, pred, evidence, alpha)      # evidence concatenated over chunks

Rules for claim authors
-----------------------
* ``quick`` / ``full`` are JSON-able dicts; each must hold ``"trials"`` (a positive int). Optional
  ``"chunk"``: trials per task (default: ``trials`` split into :data:`DEFAULT_N_CHUNKS` chunks).
  Chunks are the unit of parallelism and of resuming; the chunk layout is part of the
  configuration, so changing ``chunk`` changes the seeds of every chunk.
* ``simulate`` must draw all randomness from the ``rng`` it is given and return
  ``{name: array}`` with a leading axis of exactly ``n_trials``, numeric and finite. A key that may
  legitimately hold +-inf is listed in ``cfg["allow_inf"]``; NaN is never allowed.
* ``predict`` and ``judge`` are pure functions of their arguments. ``judge`` receives the per-key
  concatenation (chunk order) of the evidence and the per-statement error rate ``alpha``
  (:data:`depthcheck.validation.claims.stats.ALPHA`) and returns a :class:`Verdict`; the helpers
  ``depthcheck.validation.claims.stats.judge_within / judge_upper / judge_lower / judge_all_hold`` build one. A
  judge that combines k statements (one interval each, all at level ``alpha``;
  ``stats.combine_decisions``) records ``extra["statements"] = k``: the suite's error budget is
  ``stats.CLAIM_BUDGET`` statements in all.
* ``control`` holds configuration overrides (e.g. ``{"weights": "gaussian"}``) for the negative
  control. It runs through the *same* ``predict``/``simulate``/``judge`` and must come out FAIL; a
  control that passes or is inconclusive marks the claim BROKEN.
* ``figure(cfg, claim_result, control_result, outdir)`` (optional) draws PNGs into ``outdir`` and
  returns their paths. Both results are :class:`ClaimResult` (``control_result`` is ``None`` if
  the control errored). Matplotlib is already switched to the Agg backend when it is called.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["VERDICTS", "DEFAULT_N_CHUNKS", "Verdict", "Claim", "ClaimResult", "config_hash",
           "chunk_sizes"]

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")

#: When a configuration gives no "chunk", its trials are split into this many tasks.
DEFAULT_N_CHUNKS = 4

_MODES = ("quick", "full")


def _jsonable(value, what: str):
    """Round-trip ``value`` through JSON, raising ``ValueError`` naming ``what`` if it cannot."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-able: {exc}") from exc


def _json_default(obj):
    # numpy scalars and small arrays show up naturally in configs, predictions and extras.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def config_hash(cfg: dict) -> str:
    """Stable hex digest of a JSON-able configuration (key order does not matter)."""
    import hashlib
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Verdict:
    """The judged outcome of one claim (or control) run.

    ``verdict`` is PASS / FAIL / INCONCLUSIVE; ``statistic`` the judged number (fitted slope, mean
    ratio, minimum margin, ...); ``ci`` its two-sided confidence interval at level 1 - ``alpha``;
    ``prediction`` the theory number or bound it was compared with (``None`` if none is a single
    number); ``detail`` one human sentence; ``extra`` JSON-able extras shown in the report.
    """
    verdict: str
    statistic: float
    ci: tuple[float, float]
    prediction: float | None
    alpha: float
    detail: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not one of {VERDICTS}")
        try:
            stat = float(self.statistic)
            lo, hi = (float(c) for c in self.ci)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"statistic and ci must be numbers (ci two of them): {exc}") from exc
        if math.isnan(stat) or math.isnan(lo) or math.isnan(hi):
            raise ValueError(f"statistic/ci must not be NaN, got {stat}, ({lo}, {hi})")
        if lo > hi:
            raise ValueError(f"ci must be ordered (lo <= hi), got ({lo}, {hi})")
        if not 0.0 < float(self.alpha) < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        pred = None if self.prediction is None else float(self.prediction)
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {type(self.extra).__name__}")
        object.__setattr__(self, "statistic", stat)
        object.__setattr__(self, "ci", (lo, hi))
        object.__setattr__(self, "prediction", pred)
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "detail", str(self.detail))
        object.__setattr__(self, "extra", _jsonable(self.extra, "Verdict.extra"))


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a source paper, with its negative control (see module doc)."""
    id: str                   # "seed001.isometry_decay"; the prefix before the dot is the paper group
    title: str
    source: str               # "001_d5049fc1e527e58d.txt, Theorem 1"
    statement: str            # formula in words and symbols
    assumptions: str
    quick: dict               # configuration for --quick; must contain "trials"; optional "chunk"
    full: dict                # configuration for --full
    predict: Callable[[dict], Any]
    simulate: Callable[[dict, np.random.Generator, int, str], dict]
    judge: Callable[[dict, Any, dict, float], Verdict]
    control: dict             # config overrides for the negative control (must FAIL)
    control_description: str
    figure: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.id, str) or "." not in self.id or self.id != self.id.strip() \
                or any(c.isspace() for c in self.id):
            raise ValueError(f"Claim.id must look like 'group.name' without spaces, got {self.id!r}")
        for name in ("title", "source", "statement", "assumptions", "control_description"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"Claim {self.id}: {name} must be a non-empty string")
        for name in ("predict", "simulate", "judge"):
            if not callable(getattr(self, name)):
                raise ValueError(f"Claim {self.id}: {name} must be callable")
        if self.figure is not None and not callable(self.figure):
            raise ValueError(f"Claim {self.id}: figure must be callable or None")
        if not isinstance(self.control, dict) or not self.control:
            raise ValueError(f"Claim {self.id}: control must be a non-empty dict of config overrides")
        for mode in _MODES:
            self.config(mode, control=False)
            self.config(mode, control=True)

    def config(self, mode: str, control: bool = False) -> dict:
        """The configuration of ``mode`` ("quick"/"full"), with the control overrides if asked.

        Validated: JSON-able, ``trials`` a positive int, ``chunk`` (if given) a positive int.
        """
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r} is not one of {_MODES}")
        base = self.quick if mode == "quick" else self.full
        if not isinstance(base, dict):
            raise ValueError(f"Claim {self.id}: {mode} configuration must be a dict")
        cfg = dict(base)
        if control:
            cfg.update(self.control)
        cfg = _jsonable(cfg, f"Claim {self.id} {mode} configuration")
        for key in ("trials", "chunk"):
            if key == "chunk" and key not in cfg:
                continue
            v = cfg.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Claim {self.id} {mode} configuration: {key!r} must be a "
                                 f"positive int, got {v!r}")
        allow = cfg.get("allow_inf", [])
        if not isinstance(allow, list) or not all(isinstance(k, str) for k in allow):
            raise ValueError(f"Claim {self.id}: allow_inf must be a list of evidence keys")
        return cfg



def chunk_sizes(cfg: dict) -> list[int]:
    """Trials of each task: chunks of ``cfg["chunk"]`` (default ``ceil(trials / DEFAULT_N_CHUNKS)``)
    trials, the last one possibly smaller."""
    trials = int(cfg["trials"])
    size = int(cfg.get("chunk", max(1, math.ceil(trials / DEFAULT_N_CHUNKS))))
    n = math.ceil(trials / size)
    return [size] * (n - 1) + [trials - size * (n - 1)]


@dataclass
class ClaimResult:
    """What a figure callback (and the report) sees of one finished claim or control run."""
    id: str
    control: bool
    config: dict
    prediction: Any                       # the raw output of predict(cfg)
    evidence: dict[str, np.ndarray]       # concatenated over chunks, leading axis = trials
    verdict: Verdict
    trials: int
