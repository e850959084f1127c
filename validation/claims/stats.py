"""Confidence intervals and three-way decisions used to judge every claim.

Error-rate policy
-----------------
The whole quick suite must report a false FAIL (a true theorem declared violated) less than once
in a thousand runs: ``SUITE_FALSE_FAIL = 1e-3``. We split that budget with Bonferroni's
inequality over at most ``CLAIM_BUDGET = 100`` judged statements (one statement = one confidence
interval compared with a prediction; a claim that judges several widths spends several), giving

    ALPHA = SUITE_FALSE_FAIL / CLAIM_BUDGET = 1e-5

for every *two-sided* interval at level 1 - ALPHA. A FAIL requires the interval to lie entirely
on the wrong side of the prediction (or outside the prediction band), which for a true claim
happens with probability at most ALPHA / 2 per statement, so

    P(any false FAIL in the suite) <= 100 * ALPHA / 2 = 5e-4 < 1e-3.

The spare factor of two absorbs the approximations the intervals rest on (Student t for
per-trial statistics that are only approximately normal, the delta method for ratios). Bonferroni
needs no independence between statements. No multiplicity is spent on negative controls: a
control is *expected* to FAIL, its risk is a lack of power (reported as BROKEN), not a false FAIL.

A claim whose judge combines several statements (e.g. one interval per width, see
:func:`combine_decisions`) spends one unit of the budget per statement, each at level ALPHA, and
says so in ``Verdict.extra["statements"]`` (default 1); a claim that instead judges k comparisons
at level ALPHA/k each (Bonferroni inside the claim, :class:`Family`) spends one unit; the report adds them up over the claims
of a run (:func:`statements_judged`) and warns when the total exceeds CLAIM_BUDGET.

Practical consequences for claim authors: at ALPHA = 1e-5 the two-sided t quantile is 4.42 for
infinite degrees of freedom, 4.66 for 100 trials, 5.33 for 30 and 8.8 for 10, so judge on at least
~30 independent trials of a roughly symmetric per-trial statistic (log scale for products).
INCONCLUSIVE is the honest answer when the interval straddles the prediction band.

Decisions (three-way, see :func:`decide_within`, :func:`decide_upper`, :func:`decide_lower`)
-------------------------------------------------------------------------------------------
* equivalence ``lo <= theta <= hi``: PASS if the CI lies inside [lo, hi], FAIL if it is disjoint
  from it, INCONCLUSIVE otherwise;
* upper bound ``theta <= bound``: PASS if ci_hi <= bound, FAIL if ci_lo > bound;
* lower bound ``theta >= bound``: PASS if ci_lo >= bound, FAIL if ci_hi < bound;
* deterministic statements (:func:`judge_all_hold`): PASS iff every per-trial margin is >= -tol.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import betaincinv, stdtrit  # scipy.stats is slow to import

from depthcheck.theory._checks import as_float_array, check_choice, check_positive_int
from depthcheck.validation.claims.claim import Verdict

__all__ = [
    "SUITE_FALSE_FAIL", "CLAIM_BUDGET", "ALPHA",
    "Estimate", "SlopeFit", "KSResult",
    "t_quantile", "mean_ci", "slope_ci", "ratio_ci", "batch_means_ci", "proportion_ci",
    "two_sample_ks",
    "decide_within", "decide_upper", "decide_lower", "combine_decisions", "statements_judged",
    "Family", "json_safe",
    "judge_within", "judge_upper", "judge_lower", "judge_all_hold",
]

SUITE_FALSE_FAIL = 1e-3
CLAIM_BUDGET = 100
ALPHA = SUITE_FALSE_FAIL / CLAIM_BUDGET


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided (1 - alpha) confidence interval."""
    estimate: float
    ci: tuple[float, float]
    se: float
    n: int
    df: float
    alpha: float


@dataclass(frozen=True)
class SlopeFit:
    """Result of :func:`slope_ci`.

    ``slope`` / ``intercept``: t-intervals over the per-trial OLS fits. ``curve_slope`` /
    ``curve_intercept``: OLS fit of the trial-mean curve (equal to the means of the per-trial
    fits, by linearity of OLS); ``curve_mean`` the mean curve itself, for plotting.
    """
    slope: Estimate
    intercept: Estimate
    curve_slope: float
    curve_intercept: float
    curve_mean: np.ndarray
    per_trial_slopes: np.ndarray


class KSResult(NamedTuple):
    statistic: float
    pvalue: float


def _check_alpha(alpha) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return alpha


def t_quantile(alpha: float, df: float) -> float:
    """Two-sided Student-t critical value t_{1 - alpha/2, df}."""
    return float(stdtrit(df, 1.0 - _check_alpha(alpha) / 2.0))


def _sample(x, name: str, min_n: int = 2) -> np.ndarray:
    x = as_float_array(x, name, ndim=1)
    if x.shape[0] < min_n:
        raise ValueError(f"{name} needs at least {min_n} values, got {x.shape[0]}")
    return x


def mean_ci(x, alpha: float = ALPHA) -> Estimate:
    """Student-t interval for the mean of iid values ``x`` (1-D, at least 2).

    CI = mean ± t_{1-alpha/2, n-1} · s/√n. Exact for normal data, asymptotically valid otherwise.
    """
    alpha = _check_alpha(alpha)
    x = _sample(x, "x")
    n = x.shape[0]
    m = float(np.mean(x))
    se = float(np.std(x, ddof=1) / math.sqrt(n))
    h = t_quantile(alpha, n - 1) * se
    return Estimate(m, (m - h, m + h), se, n, float(n - 1), alpha)


def slope_ci(x, Y, alpha: float = ALPHA) -> SlopeFit:
    """Rate of a curve: per-trial OLS slopes of ``Y[trial, :]`` on ``x``, t-interval over trials.

    Trials are iid, so the per-trial slopes are iid and :func:`mean_ci` applies to them; this is
    valid whatever the correlation of the points *along* one curve (a Markov chain in depth), which
    an OLS interval on pooled points would get wrong. ``x``: shape (m,), m >= 2, not constant;
    ``Y``: shape (trials, m), trials >= 2.
    """
    alpha = _check_alpha(alpha)
    x = _sample(x, "x")
    Y = as_float_array(Y, "Y", ndim=2)
    if Y.shape[1] != x.shape[0]:
        raise ValueError(f"Y must have shape (trials, {x.shape[0]}) to match x, got {Y.shape}")
    if Y.shape[0] < 2:
        raise ValueError(f"Y needs at least 2 trials (rows), got {Y.shape[0]}")
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0.0:
        raise ValueError("x must not be constant")
    slopes = (Y - Y.mean(axis=1, keepdims=True)) @ xc / sxx
    intercepts = Y.mean(axis=1) - slopes * x.mean()
    curve = Y.mean(axis=0)
    b = float((curve - curve.mean()) @ xc / sxx)
    a = float(curve.mean() - b * x.mean())
    return SlopeFit(mean_ci(slopes, alpha), mean_ci(intercepts, alpha), b, a, curve, slopes)


def ratio_ci(num, den, alpha: float = ALPHA, method: str = "fieller") -> Estimate:
    """Interval for the ratio of means R = E[num] / E[den] from paired iid samples.

    ``method="fieller"`` (default): the exact-under-normality set {R : |ā - R b̄| <= t · se(ā - R b̄)},
    i.e. the roots of (b̄² - t²v_bb) R² - 2(āb̄ - t²v_ab) R + (ā² - t²v_aa) <= 0 with v = covariance
    of the means. If the denominator mean is not significantly non-zero the set is unbounded and
    (-inf, inf) is returned (never a false FAIL). ``method="delta"``: R ± t · se with
    se² = (v_aa - 2R v_ab + R² v_bb) / b̄². Samples of different lengths are treated as independent.
    """
    alpha = _check_alpha(alpha)
    if method not in ("fieller", "delta"):
        raise ValueError(f"method={method!r} is not one of ('fieller', 'delta')")
    a = _sample(num, "num")
    b = _sample(den, "den")
    na, nb = a.shape[0], b.shape[0]
    ma, mb = float(a.mean()), float(b.mean())
    if mb == 0.0:
        raise ValueError("den has mean zero; the ratio is undefined")
    vaa = float(np.var(a, ddof=1)) / na
    vbb = float(np.var(b, ddof=1)) / nb
    vab = float(np.cov(a, b, ddof=1)[0, 1]) / na if na == nb else 0.0
    df = float(min(na, nb) - 1)
    t = t_quantile(alpha, df)
    r = ma / mb
    se = math.sqrt(max(vaa - 2 * r * vab + r * r * vbb, 0.0)) / abs(mb)
    if method == "delta":
        return Estimate(r, (r - t * se, r + t * se), se, min(na, nb), df, alpha)
    t2 = t * t
    qa = mb * mb - t2 * vbb
    qb = ma * mb - t2 * vab
    qc = ma * ma - t2 * vaa
    disc = qb * qb - qa * qc
    if qa <= 0.0 or disc < 0.0:
        return Estimate(r, (-math.inf, math.inf), se, min(na, nb), df, alpha)
    root = math.sqrt(disc)
    return Estimate(r, ((qb - root) / qa, (qb + root) / qa), se, min(na, nb), df, alpha)


def batch_means_ci(series, n_batches: int = 20, alpha: float = ALPHA) -> Estimate:
    """Interval for an ergodic average along a Markov chain by non-overlapping batch means.

    ``series``: shape (T,) for one chain or (chains, T) for independent chains. Each chain is cut
    into ``n_batches`` contiguous batches of length floor(T / n_batches) (the first T mod
    n_batches steps are dropped as extra burn-in); the batch means of all chains are treated as
    iid, which is valid when a batch is much longer than the chain's autocorrelation time.
    """
    alpha = _check_alpha(alpha)
    n_batches = check_positive_int(n_batches, "n_batches", minimum=2)
    s = as_float_array(series, "series", ndim=(1, 2))
    s = s[None, :] if s.ndim == 1 else s
    T = s.shape[1]
    if T < n_batches:
        raise ValueError(f"series has {T} steps, fewer than n_batches={n_batches}")
    size = T // n_batches
    means = s[:, T - size * n_batches:].reshape(s.shape[0], n_batches, size).mean(axis=2)
    return mean_ci(means.ravel(), alpha)


def proportion_ci(k: int, n: int, alpha: float = ALPHA) -> Estimate:
    """Clopper–Pearson (exact, conservative) interval for a binomial proportion k / n."""
    alpha = _check_alpha(alpha)
    n = check_positive_int(n, "n")
    k = check_positive_int(k, "k", minimum=0)
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    p = k / n
    return Estimate(p, (lo, hi), math.sqrt(p * (1 - p) / n), n, math.inf, alpha)


def two_sample_ks(a, b) -> KSResult:
    """Two-sample Kolmogorov–Smirnov test of equal distributions (statistic, p-value).

    A claim "a and b have the same law" FAILs when ``pvalue < alpha``.
    """
    from scipy.stats import ks_2samp
    a = _sample(a, "a", 1)
    b = _sample(b, "b", 1)
    res = ks_2samp(a, b)
    return KSResult(float(res.statistic), float(res.pvalue))


# ----------------------------------------------------------------------------------- decisions

def _ci(ci) -> tuple[float, float]:
    lo, hi = (float(c) for c in ci)
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise ValueError(f"ci must be an ordered pair of numbers, got {ci}")
    return lo, hi


def decide_within(ci, lo: float, hi: float) -> str:
    """Equivalence decision for ``lo <= theta <= hi`` (see module doc)."""
    c_lo, c_hi = _ci(ci)
    if not lo <= hi:
        raise ValueError(f"band must satisfy lo <= hi, got [{lo}, {hi}]")
    if lo <= c_lo and c_hi <= hi:
        return "PASS"
    if c_hi < lo or c_lo > hi:
        return "FAIL"
    return "INCONCLUSIVE"


def decide_upper(ci, bound: float) -> str:
    """Decision for ``theta <= bound``."""
    c_lo, c_hi = _ci(ci)
    return "PASS" if c_hi <= bound else "FAIL" if c_lo > bound else "INCONCLUSIVE"


def decide_lower(ci, bound: float) -> str:
    """Decision for ``theta >= bound``."""
    c_lo, c_hi = _ci(ci)
    return "PASS" if c_lo >= bound else "FAIL" if c_hi < bound else "INCONCLUSIVE"


def combine_decisions(decisions) -> str:
    """Verdict of a conjunction of statements: FAIL if any FAILs, PASS if all PASS, else
    INCONCLUSIVE. Each statement spends one unit of the suite's CLAIM_BUDGET; report their number
    as ``Verdict.extra["statements"]`` so the report can check the budget."""
    decisions = list(decisions)
    if not decisions:
        raise ValueError("decisions must not be empty")
    for d in decisions:
        check_choice(d, "decision", ("PASS", "FAIL", "INCONCLUSIVE"))
    if "FAIL" in decisions:
        return "FAIL"
    return "PASS" if all(d == "PASS" for d in decisions) else "INCONCLUSIVE"


def _unpack(stat, ci):
    # judge_*(est) with an Estimate is shorthand for judge_*(est.estimate, est.ci)
    if isinstance(stat, Estimate):
        return stat.estimate, stat.ci if ci is None else ci
    if ci is None:
        raise ValueError("ci is required unless stat is an Estimate")
    return float(stat), _ci(ci)


def _g(v: float) -> str:
    return f"{v:.4g}"


def judge_within(stat, ci, lo: float, hi: float, *, alpha: float = ALPHA, prediction=None,
                 detail: str | None = None, extra: dict | None = None) -> Verdict:
    """Verdict for ``lo <= theta <= hi``; ``prediction`` defaults to the band centre."""
    stat, ci = _unpack(stat, ci)
    v = decide_within(ci, lo, hi)
    if prediction is None and math.isfinite(lo) and math.isfinite(hi):
        prediction = (lo + hi) / 2
    if detail is None:
        where = {"PASS": "inside", "FAIL": "outside", "INCONCLUSIVE": "overlaps the edge of"}[v]
        detail = (f"statistic {_g(stat)} with CI [{_g(ci[0])}, {_g(ci[1])}] lies {where} "
                  f"the predicted band [{_g(lo)}, {_g(hi)}]")
    return Verdict(v, stat, ci, prediction, alpha, detail, dict(extra or {}, band=[lo, hi]))


def judge_upper(stat, ci, bound: float, *, alpha: float = ALPHA, prediction=None,
                detail: str | None = None, extra: dict | None = None) -> Verdict:
    """Verdict for ``theta <= bound``; ``prediction`` defaults to the bound."""
    stat, ci = _unpack(stat, ci)
    v = decide_upper(ci, bound)
    if detail is None:
        detail = (f"statistic {_g(stat)} with CI [{_g(ci[0])}, {_g(ci[1])}] against the upper "
                  f"bound {_g(bound)}: " + {"PASS": "CI below the bound",
                                            "FAIL": "CI entirely above the bound",
                                            "INCONCLUSIVE": "CI contains the bound"}[v])
    return Verdict(v, stat, ci, bound if prediction is None else prediction, alpha, detail,
                   dict(extra or {}))


def judge_lower(stat, ci, bound: float, *, alpha: float = ALPHA, prediction=None,
                detail: str | None = None, extra: dict | None = None) -> Verdict:
    """Verdict for ``theta >= bound``; ``prediction`` defaults to the bound."""
    stat, ci = _unpack(stat, ci)
    v = decide_lower(ci, bound)
    if detail is None:
        detail = (f"statistic {_g(stat)} with CI [{_g(ci[0])}, {_g(ci[1])}] against the lower "
                  f"bound {_g(bound)}: " + {"PASS": "CI above the bound",
                                            "FAIL": "CI entirely below the bound",
                                            "INCONCLUSIVE": "CI contains the bound"}[v])
    return Verdict(v, stat, ci, bound if prediction is None else prediction, alpha, detail,
                   dict(extra or {}))


def judge_all_hold(margins, *, tol: float = 0.0, alpha: float = ALPHA, prediction: float = 0.0,
                   detail: str | None = None, extra: dict | None = None) -> Verdict:
    """Deterministic statement "margin >= 0 in every trial" (up to rounding ``tol``).

    ``statistic`` is the smallest margin, ``ci`` the degenerate interval (min, min); PASS iff
    min >= -tol, else FAIL (there is no sampling error to be inconclusive about).
    """
    m = as_float_array(margins, "margins", min_ndim=1).ravel()
    worst = float(m.min())
    v = "PASS" if worst >= -tol else "FAIL"
    if detail is None:
        n_bad = int(np.sum(m < -tol))
        detail = (f"smallest margin {_g(worst)} over {m.size} cases (tolerance {_g(tol)}); "
                  f"{n_bad} violated")
    return Verdict(v, worst, (worst, worst), prediction, alpha, detail,
                   dict(extra or {}, cases=int(m.size), tol=tol))


def statements_judged(records: list[dict]) -> int:
    """Judged statements of a run's claim records (controls and exact statements excluded:
    an exact statement is not a Monte Carlo risk): sum of ``extra["statements"]`` (default 1)
    — to be compared with CLAIM_BUDGET."""
    return sum(int(r.get("extra", {}).get("statements", 1)) for r in records
               if not r["control"] and r["verdict"] != "ERROR"
               and r.get("kind", "statistical") != "exact")


# ----------------------------------------------------------------------------------- families

_SEVERITY = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}

#: A family lists every part in ``Verdict.extra["parts"]`` up to this many; beyond, the non-PASS
#: parts and the 8 tightest PASS ones (at most 40), so that results.json stays small.
FAMILY_SHOWN = 12


def json_safe(obj):
    """``obj`` with non-finite floats as the strings "inf" / "-inf" / "nan" and numpy scalars as
    Python numbers, so that results.json stays strict JSON.

    Examples
    --------
    >>> json_safe({"a": [1.0, float("inf")], "b": np.float64(2.5)})
    {'a': [1.0, 'inf'], 'b': 2.5}
    """
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return str(float(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class Family:
    """A conjunction of ``k`` comparisons, each judged at level ``alpha / k`` (Bonferroni inside
    one claim): PASS if all PASS, FAIL if any FAILs, INCONCLUSIVE otherwise. The family-wise
    false-FAIL rate stays below ``alpha / 2``, so the claim spends ONE statement of the suite
    budget (``extra["statements"] = 1``) however many comparisons it makes.

    Build the intervals at :attr:`level`, :meth:`add` one part per comparison (or use
    :meth:`add_upper` / :meth:`add_lower` / :meth:`add_within`, which decide), then call
    :meth:`verdict`. Exactly ``k`` parts must be added: a family judged on more or fewer
    comparisons than it was sized for raises.

    The reported statistic, interval and (by default) prediction are those of the *decisive* part:
    the most severe decision (FAIL, then INCONCLUSIVE, then PASS); among equals the one with the
    smallest ``margin`` (distance from failing on the claimed side, ``tiebreak="margin"``) or the
    first added (``tiebreak="order"``).

    ``Verdict.extra`` holds ``statements`` (1), ``comparisons`` (k), ``level`` (alpha/k),
    ``decisive`` (its name) and ``parts`` (name, decision, statistic, ci, prediction and, when
    given, kind and bound of each shown part; see :data:`FAMILY_SHOWN`), non-finite numbers as
    strings (:func:`json_safe`).

    Examples
    --------
    >>> fam = Family(alpha=0.01, k=2)
    >>> fam.level
    0.005
    >>> p = fam.add_upper("layer 1", 0.4, (0.3, 0.5), bound=1.0)
    >>> p = fam.add_within("layer 2", 1.02, (0.97, 1.07), 0.9, 1.1)
    >>> v = fam.verdict("two layers")
    >>> v.verdict, v.statistic, v.extra["decisive"], v.extra["comparisons"]
    ('PASS', 1.02, 'layer 2', 2)
    """

    def __init__(self, alpha: float, k: int):
        self.alpha = _check_alpha(alpha)
        self.k = check_positive_int(k, "k")
        self.parts: list[dict] = []

    @property
    def level(self) -> float:
        """The error rate of each comparison, ``alpha / k``."""
        return self.alpha / self.k

    def add(self, name: str, decision: str, statistic: float, ci, prediction: float | None,
            margin: float, **info) -> dict:
        """Record one comparison already decided at :attr:`level`; ``info`` (e.g. ``kind``,
        ``bound``) is kept with the part. Returns the part."""
        check_choice(decision, "decision", tuple(_SEVERITY))
        if len(self.parts) >= self.k:
            raise ValueError(f"family of k={self.k} comparisons: part {name!r} is one too many")
        lo, hi = (float(c) for c in ci)
        part = {"name": str(name), "decision": decision, "statistic": float(statistic),
                "ci": [lo, hi], "prediction": None if prediction is None else float(prediction),
                "margin": float(margin), **info}
        self.parts.append(part)
        return part

    def add_upper(self, name: str, statistic: float, ci, bound: float, **info) -> dict:
        """Comparison ``theta <= bound`` (:func:`decide_upper`); margin ``bound − ci_hi``."""
        lo, hi = _ci(ci)
        return self.add(name, decide_upper((lo, hi), bound), statistic, (lo, hi), bound,
                        bound - hi, kind="upper", bound=[float(bound)], **info)

    def add_lower(self, name: str, statistic: float, ci, bound: float, **info) -> dict:
        """Comparison ``theta >= bound`` (:func:`decide_lower`); margin ``ci_lo − bound``."""
        lo, hi = _ci(ci)
        return self.add(name, decide_lower((lo, hi), bound), statistic, (lo, hi), bound,
                        lo - bound, kind="lower", bound=[float(bound)], **info)

    def add_within(self, name: str, statistic: float, ci, lo: float, hi: float,
                   margin: float | None = None, **info) -> dict:
        """Comparison ``lo <= theta <= hi`` (:func:`decide_within`); prediction the band centre;
        margin (default) the distance of the interval from the nearer band edge."""
        c_lo, c_hi = _ci(ci)
        if margin is None:
            margin = min(c_lo - lo, hi - c_hi)
        return self.add(name, decide_within((c_lo, c_hi), lo, hi), statistic, (c_lo, c_hi),
                        (lo + hi) / 2, margin, kind="within", bound=[float(lo), float(hi)],
                        **info)

    def _check_complete(self) -> None:
        if len(self.parts) != self.k:
            raise ValueError(f"family sized for k={self.k} comparisons received "
                             f"{len(self.parts)}: each was judged at the wrong level alpha/k")

    @property
    def decision(self) -> str:
        """The family's verdict (:func:`combine_decisions` of the parts)."""
        self._check_complete()
        return combine_decisions([p["decision"] for p in self.parts])

    def counts(self) -> dict[str, int]:
        """Number of parts per decision."""
        return {v: sum(p["decision"] == v for p in self.parts) for v in _SEVERITY}

    def decisive(self, tiebreak: str = "margin") -> dict:
        """The decisive part (see the class doc)."""
        check_choice(tiebreak, "tiebreak", ("margin", "order"))
        self._check_complete()
        i = min(range(len(self.parts)), key=lambda j: (
            _SEVERITY[self.parts[j]["decision"]],
            self.parts[j]["margin"] if tiebreak == "margin" else j))
        return self.parts[i]

    def summary(self, what: str, tiebreak: str = "margin", fmt=None) -> str:
        """One sentence: ``what``, the counts, and the decisive part (``fmt`` formats numbers)."""
        fmt = fmt or _g
        key = self.decisive(tiebreak)
        c = self.counts()
        return (f"{what}. {self.k} comparisons at level α/{self.k} each: "
                f"{c['PASS']} PASS, {c['INCONCLUSIVE']} INCONCLUSIVE, {c['FAIL']} FAIL. "
                f"Decisive: {key['name']}: {fmt(key['statistic'])} [{fmt(key['ci'][0])}, "
                f"{fmt(key['ci'][1])}] vs {fmt(key['prediction'])} → {key['decision']}.")

    def shown(self) -> list[dict]:
        """The parts listed in ``extra["parts"]``."""
        if len(self.parts) <= FAMILY_SHOWN:
            return list(self.parts)
        return ([p for p in self.parts if p["decision"] != "PASS"]
                + sorted((p for p in self.parts if p["decision"] == "PASS"),
                         key=lambda p: p["margin"])[:8])[:40]

    def verdict(self, detail: str, *, prediction: float | None = None, extra: dict | None = None,
                tiebreak: str = "margin") -> Verdict:
        """The claim's :class:`Verdict`: decision of the family, statistic / ci / prediction of
        the decisive part (``prediction`` overrides the latter), ``detail`` as given (e.g.
        :meth:`summary`), ``extra`` merged into the standard keys (a clash raises)."""
        key = self.decisive(tiebreak)
        std = {"statements": 1, "comparisons": self.k, "level": self.level,
               "decisive": key["name"],
               "parts": [{k: p[k] for k in ("name", "decision", "statistic", "ci", "prediction",
                                            "kind", "bound") if k in p} for p in self.shown()]}
        clash = sorted(set(std) & set(extra or {}))
        if clash:
            raise ValueError(f"extra keys {clash} are reserved by Family.verdict")
        return Verdict(self.decision, key["statistic"], tuple(key["ci"]),
                       key["prediction"] if prediction is None else prediction, self.alpha,
                       detail, json_safe({**std, **(extra or {})}))
