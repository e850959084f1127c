"""The claim interface: one theorem of a source paper as an executable, statistically judged check.

A claim module (e.g. ``depthcheck.validation.papers.bn_orthogonal``) exposes ``CLAIMS: list[Claim]``. The runner
(:mod:`depthcheck.validation.run.runner`) turns every claim into independent tasks and calls, for the claim and
for its negative control alike::

    cfg       = claim.config(mode, control)                  # quick (+ full) (+ control overrides)
    evidence  = claim.simulate(cfg, rng, n_trials, backend)  # once per chunk of trials
    pred      = claim.predict(cfg)                           # theory
    verdict   = claim.judge(cfg, pred, evidence, alpha)      # evidence concatenated over chunks

Rules for claim authors
-----------------------
* ``quick`` is a JSON-able dict, the scientific configuration of ``--quick``; ``full`` holds the
  keys that ``--full`` changes (default: none, the full run repeats the quick configuration).
* Runner directives are Claim fields, never configuration keys: ``trials`` (a positive int, or
  ``{"quick": n, "full": m}``), ``chunk`` (trials per task, same forms; default: ``trials`` split
  into :data:`DEFAULT_N_CHUNKS` chunks), ``allow_inf``. Chunks are the unit of parallelism and of
  resuming; changing ``chunk`` changes the seeds of every chunk.
* ``simulate(cfg, rng, n_trials, backend)`` must draw all randomness from the ``rng`` it is given
  and return ``{name: array}`` with a leading axis of exactly ``n_trials``, numeric and finite. A
  key that may legitimately hold +-inf is listed in ``Claim.allow_inf``; NaN is never allowed.
  ``backend`` is one of ``Claim.backends`` (default ``("numpy",)``; listed fastest first, since
  the default backend "auto" takes the first numba or numpy entry): the runner refuses, by
  claim id, a backend a selected claim does not declare.
* The task streams are seeded from ``Claim.seed_key`` (default: the id); a renamed claim keeps its
  former id there, and in ``aliases`` so that the former id still selects it.
* ``predict`` and ``judge`` are pure functions of their arguments. ``judge`` receives the per-key
  concatenation (chunk order) of the evidence and the per-statement error rate ``alpha``
  (:data:`depthcheck.validation.claims.stats.ALPHA`) and returns a :class:`Verdict`; the helpers
  ``depthcheck.validation.claims.stats.judge_within / judge_upper / judge_lower / judge_all_hold`` build one. A
  judge that combines k statements (one interval each, all at level ``alpha``;
  ``stats.combine_decisions``) records ``extra["statements"] = k``: the suite's error budget is
  ``stats.CLAIM_BUDGET`` statements in all; k comparisons at level ``alpha / k`` each
  (``stats.Family``) spend one statement.
* ``control`` holds configuration overrides (e.g. ``{"weights": "gaussian"}``) for the negative
  control. It runs through the *same* ``predict``/``simulate``/``judge`` and must come out FAIL; a
  control that passes or is inconclusive marks the claim BROKEN.
* ``kind`` says what the judged statement is (:data:`KINDS`): "exact" (a deterministic identity
  or inequality evaluated to rounding: no Monte Carlo interval, reported EXACT / VIOLATED with
  the worst error, outside the error budget), "statistical" (default) or "finding" (a
  statistical statement of this library beyond or against the paper). The runner refuses, as
  mis-declared, a statistical claim whose evidence is identical across its independently seeded
  chunks or whose interval has zero width.
* Statistical claims and findings declare ``sensitivity`` (:class:`Sensitivity`: the smallest
  departure δ from the prediction they must detect, and why that size matters) and at least one
  data-side :class:`Mutation` of that size (a plausible bug or a plausible false theory in the
  *simulation*, never a changed prediction). Mutations run through the same ``simulate`` (on
  the claim's random numbers) and ``judge`` (with the claim's configuration and prediction) and
  must FAIL; otherwise, or without any mutation, the claim is UNDERPOWERED.
* ``figure(cfg, claim_result, control_result, outdir)`` (optional) draws PNGs into ``outdir`` and
  returns their paths. Both results are :class:`ClaimResult` (``control_result`` is ``None`` if
  the control errored). Matplotlib is already switched to the Agg backend when it is called.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["VERDICTS", "KINDS", "DEFAULT_N_CHUNKS", "BACKENDS", "DIRECTIVES", "Verdict",
           "Sensitivity", "Mutation", "Sequential", "NotCheckable", "Claim", "ClaimResult", "config_hash",
           "chunk_sizes"]

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")

#: What a claim's judged statement is (see :class:`Claim`):
#: "exact"       a deterministic identity or inequality evaluated to rounding (no Monte Carlo
#:               interval; reported EXACT / VIOLATED with the worst error; outside the error
#:               budget);
#: "statistical" a statement about a distribution, judged from Monte Carlo trials by an interval;
#: "finding"     a statistical statement of this library beyond or against the paper.
KINDS = ("exact", "statistical", "finding")

#: When a configuration gives no "chunk", its trials are split into this many tasks.
DEFAULT_N_CHUNKS = 4

_MODES = ("quick", "full")

#: The engines a claim may declare in ``Claim.backends`` (those of ``depthcheck.kernels.backends``).
BACKENDS = ("numpy", "numba", "cuda")

#: Runner directives: Claim fields, refused as configuration keys.
DIRECTIVES = ("trials", "chunk", "allow_inf")


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
class Sensitivity:
    """The smallest departure from the prediction a statistical claim is meant to detect.

    ``delta`` is that departure in the units of the judged statistic (a number, or
    ``{"quick": .., "full": ..}`` when the modes resolve different sizes); ``measure`` says in words
    what it is a departure of ("relative error of the per-layer decay rate", "slope of the log
    gradient norm per e-fold of depth"); ``why`` says why this size is the scientifically
    interesting one. A claim proves it can detect ``delta`` with its :class:`Mutation` s: data
    mutated by that much must FAIL through the same code. Convention: an equality statement's
    band is ±delta/2 around the prediction and the trials are planned so that the interval's
    half-width is below delta/2; a true departure of delta then FAILs.
    """
    delta: float | Mapping[str, float]
    measure: str
    why: str

    def __post_init__(self):
        d = self.delta
        vals = dict(d) if isinstance(d, Mapping) else {"quick": d, "full": d}
        if set(vals) != set(_MODES):
            raise ValueError(f"Sensitivity.delta per mode must have exactly the keys {_MODES}")
        for mode, v in vals.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v <= 0:
                raise ValueError(f"Sensitivity.delta ({mode}) must be a finite positive number, "
                                 f"got {v!r}")
        for name in ("measure", "why"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"Sensitivity.{name} must be a non-empty string")
        object.__setattr__(self, "delta", {m: float(v) for m, v in vals.items()}
                           if isinstance(d, Mapping) else float(d))

    def at(self, mode: str) -> float:
        """delta in ``mode`` ("quick" or "full")."""
        _check_mode(mode)
        return float(self.delta[mode]) if isinstance(self.delta, Mapping) else self.delta


@dataclass(frozen=True)
class Mutation:
    """A calibrated, data-side mutation: the claim's simulation with a plausible bug or a
    plausible false theory of the size of the claim's :class:`Sensitivity`. It must FAIL.

    ``overrides`` are configuration keys given to ``simulate`` only (``predict`` and ``judge``
    see the claim's own configuration, so a mutation can never move the prediction: it changes
    the data). ``transform(cfg, evidence) -> evidence`` (optional) maps the evidence before it
    is judged; without ``overrides`` it is applied to the claim's own evidence (same random
    numbers, no extra simulation). Mutations with ``overrides`` simulate on the claim's random
    streams (common random numbers), so claim and mutation differ only by the mutation.
    """
    name: str
    description: str
    overrides: dict = field(default_factory=dict)
    transform: Callable[[dict, dict], dict] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Mutation.name must be an identifier, got {self.name!r}")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValueError(f"Mutation {self.name}: description must be a non-empty string")
        if not isinstance(self.overrides, dict):
            raise ValueError(f"Mutation {self.name}: overrides must be a dict")
        if self.transform is not None and not callable(self.transform):
            raise ValueError(f"Mutation {self.name}: transform must be callable or None")
        if not self.overrides and self.transform is None:
            raise ValueError(f"Mutation {self.name}: give overrides (for simulate) or a "
                             f"transform (of the evidence), or both")

    @property
    def simulates(self) -> bool:
        """Whether the mutation needs its own simulation tasks (it has ``overrides``)."""
        return bool(self.overrides)


@dataclass(frozen=True)
class NotCheckable:
    """A statement of a source paper that the suite does not check, and why: listed beside the
    claims (``python -m depthcheck list``) so that a reader sees every item of the paper either
    checked or explained.

    A claim module may expose ``NOT_CHECKABLE: list[NotCheckable]`` next to ``CLAIMS``.
    ``item`` names the statement as the paper does ("Figure 5: VGG19 on CIFAR-10"); ``why`` says
    why it is not checked here (out of reach on the machines, not a checkable statement, ...);
    ``instead`` names the claim ids that check the closest analogue, if any.
    """
    id: str                      # "rank_collapse.vgg19_cifar10": a name, not a claim id
    item: str
    source: str
    why: str
    instead: tuple[str, ...] = ()

    def __post_init__(self):
        if not _is_id(self.id):
            raise ValueError(f"NotCheckable.id must look like 'group.name', got {self.id!r}")
        for name in ("item", "source", "why"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"NotCheckable {self.id}: {name} must be a non-empty string")
        if isinstance(self.instead, str) or not all(isinstance(i, str) and _is_id(i)
                                                    for i in self.instead):
            raise ValueError(f"NotCheckable {self.id}: instead must be a tuple of claim ids")
        object.__setattr__(self, "instead", tuple(self.instead))


@dataclass(frozen=True)
class Sequential:
    """How ``run --until-decided`` judges a claim with an anytime-valid confidence sequence.

    ``key`` names an evidence array with one value per trial (the per-trial statistic whose
    mean the statement is about); ``statement(cfg, prediction)`` returns a
    :class:`depthcheck.validation.claims.sequential.Statement` (a band, or a one-sided bound);
    ``support = (lo, hi)``, when every per-trial value lies in a known range, selects the
    betting confidence sequence (Waudby-Smith & Ramdas 2024, arXiv:2010.09686); without it the
    t-mixture sequence on chunk means is used (Lai 1976; Wang & Ramdas 2023, arXiv:2310.03722),
    which assumes the chunk means are Gaussian with a common variance. Either way the decision
    keeps its error rate whenever the runner stops (``docs/sequential.md``).
    """
    key: str
    statement: Callable[[dict, Any], Any]
    support: tuple[float, float] | None = None

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("Sequential.key must name an evidence key")
        if not callable(self.statement):
            raise ValueError("Sequential.statement must be callable as statement(cfg, pred)")
        if self.support is not None:
            lo, hi = (float(v) for v in self.support)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"Sequential.support must be a finite range lo < hi, got "
                                 f"{self.support!r}")
            object.__setattr__(self, "support", (lo, hi))


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One checkable statement of a source paper, with its negative control (see module doc).

    Scientific content: ``quick`` (configuration of ``--quick``), ``full`` (overrides of
    ``quick`` for ``--full``; default none), ``control`` (overrides for the negative control),
    ``predict`` / ``simulate`` / ``judge`` / ``figure``. Runner directives, never part of a
    configuration: ``trials`` and ``chunk`` (an int for both modes, or ``{"quick": .., "full": ..}``),
    ``allow_inf`` (evidence keys that may hold +-inf), ``backends`` (the engines ``simulate``
    can run on, fastest first: the default backend "auto" runs the claim on the first of them
    that is numba or numpy; the runner refuses any other by name), ``seed_key`` (the string hashed into the
    random streams, default ``id``: keeps a renamed claim's numbers) and ``aliases`` (former ids,
    still accepted wherever an id or prefix is).
    """
    id: str                   # "bn_orthogonal.isometry_decay"; the part before the dot is the group
    title: str
    source: str               # "Meterez et al. 2024 (arXiv:2310.02012), Theorem 1"
    statement: str            # formula in words and symbols
    assumptions: str
    quick: dict               # scientific configuration of --quick
    predict: Callable[[dict], Any]
    simulate: Callable[[dict, np.random.Generator, int, str], dict]
    judge: Callable[[dict, Any, dict, float], Verdict]
    control: dict             # config overrides for the negative control (must FAIL)
    control_description: str
    trials: int | Mapping[str, int]
    full: dict = field(default_factory=dict)            # overrides of quick for --full
    chunk: int | Mapping[str, int] | None = None        # trials per task
    allow_inf: tuple[str, ...] = ()
    backends: tuple[str, ...] = ("numpy",)
    seed_key: str | None = None
    aliases: tuple[str, ...] = ()
    figure: Callable | None = None
    kind: str = "statistical"                            # one of KINDS
    sensitivity: Sensitivity | None = None               # δ (statistical and finding claims)
    mutations: tuple[Mutation, ...] = ()                 # data-side mutations that must FAIL
    sequential: Sequential | None = None                 # for run --until-decided

    def __post_init__(self):
        if not _is_id(self.id):
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
        for name in ("quick", "full"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"Claim {self.id}: {name} must be a dict")
        for name in ("allow_inf", "backends", "aliases"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(k, str) and k for k in value):
                raise ValueError(f"Claim {self.id}: {name} must be a sequence of non-empty "
                                 f"strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        bad = [b for b in self.backends if b not in BACKENDS]
        if not self.backends or bad:
            raise ValueError(f"Claim {self.id}: backends must be a non-empty subset of "
                             f"{BACKENDS}, got {self.backends!r}")
        for a in self.aliases:
            if not _is_id(a) or a == self.id:
                raise ValueError(f"Claim {self.id}: alias {a!r} must look like 'group.name' "
                                 f"and differ from the id")
        if self.kind not in KINDS:
            raise ValueError(f"Claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.sensitivity is not None and not isinstance(self.sensitivity, Sensitivity):
            raise ValueError(f"Claim {self.id}: sensitivity must be a Sensitivity or None")
        if self.kind == "exact" and self.sensitivity is not None:
            raise ValueError(f"Claim {self.id}: an exact statement has no sensitivity δ (it is "
                             f"evaluated to rounding); declare kind='statistical' or drop it")
        muts = tuple(self.mutations)
        if not all(isinstance(m, Mutation) for m in muts):
            raise ValueError(f"Claim {self.id}: mutations must be Mutation objects")
        names = [m.name for m in muts]
        if len(set(names)) != len(names):
            raise ValueError(f"Claim {self.id}: mutation names must be unique, got {names}")
        object.__setattr__(self, "mutations", muts)
        if self.sequential is not None and not isinstance(self.sequential, Sequential):
            raise ValueError(f"Claim {self.id}: sequential must be a Sequential or None")
        if self.seed_key is None:
            object.__setattr__(self, "seed_key", self.id)
        elif not isinstance(self.seed_key, str) or not self.seed_key:
            raise ValueError(f"Claim {self.id}: seed_key must be a non-empty string")
        for mode in _MODES:
            self.n_trials(mode)
            self.chunk_sizes(mode)
            self.config(mode, control=False)
            self.config(mode, control=True)
            for m in muts:
                self.config(mode, mutation=m.name)

    def _directive(self, name: str, mode: str, value):
        if isinstance(value, Mapping):
            if set(value) != set(_MODES):
                raise ValueError(f"Claim {self.id}: {name} given per mode must have exactly the "
                                 f"keys {_MODES}, got {sorted(value)}")
            value = value[mode]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Claim {self.id}: {name} ({mode}) must be a positive int, got "
                             f"{value!r}")
        return value

    def n_trials(self, mode: str) -> int:
        """Monte Carlo trials of ``mode`` ("quick"/"full")."""
        _check_mode(mode)
        return self._directive("trials", mode, self.trials)

    def chunk_sizes(self, mode: str) -> list[int]:
        """Trials of each task of ``mode`` (see :func:`chunk_sizes`)."""
        _check_mode(mode)
        chunk = None if self.chunk is None else self._directive("chunk", mode, self.chunk)
        return chunk_sizes(self.n_trials(mode), chunk)

    def mutation(self, name: str) -> Mutation:
        """The mutation called ``name``."""
        for m in self.mutations:
            if m.name == name:
                return m
        raise ValueError(f"Claim {self.id} has no mutation {name!r}; it has "
                         f"{[m.name for m in self.mutations]}")

    def config(self, mode: str, control: bool = False, mutation: str | None = None) -> dict:
        """The scientific configuration of ``mode``: ``quick``, for "full" updated with ``full``,
        then with the control overrides, or the overrides of ``mutation`` (what its
        ``simulate`` receives), if asked. Validated JSON-able; runner directives (``trials``,
        ``chunk``, ``allow_inf``) are refused here: they are Claim fields."""
        _check_mode(mode)
        if control and mutation is not None:
            raise ValueError("a configuration is the control's or a mutation's, not both")
        cfg = dict(self.quick)
        if mode == "full":
            cfg.update(self.full)
        if control:
            cfg.update(self.control)
        if mutation is not None:
            cfg.update(self.mutation(mutation).overrides)
        cfg = _jsonable(cfg, f"Claim {self.id} {mode} configuration")
        directives = sorted(set(cfg) & set(DIRECTIVES))
        if directives:
            raise ValueError(f"Claim {self.id} {mode} configuration: {directives} are runner "
                             f"directives, give them as Claim fields, not configuration keys")
        return cfg


def _is_id(value) -> bool:
    return (isinstance(value, str) and "." in value and not value.startswith(".")
            and not value.endswith(".") and not any(c.isspace() for c in value)
            and not any(c in value for c in "*?[]"))


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r} is not one of {_MODES}")


def chunk_sizes(trials: int, chunk: int | None = None) -> list[int]:
    """Trials of each task: chunks of ``chunk`` (default ``ceil(trials / DEFAULT_N_CHUNKS)``)
    trials, the last one possibly smaller.

    Examples
    --------
    >>> chunk_sizes(10, 4)
    [4, 4, 2]
    >>> chunk_sizes(8)
    [2, 2, 2, 2]
    """
    trials = int(trials)
    size = int(chunk) if chunk is not None else max(1, math.ceil(trials / DEFAULT_N_CHUNKS))
    if trials < 1 or size < 1:
        raise ValueError(f"trials and chunk must be positive, got trials={trials}, chunk={chunk}")
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
