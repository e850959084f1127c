"""Anytime-valid confidence sequences and sequential PASS / FAIL / INCONCLUSIVE decisions.

A fixed-n confidence interval promises coverage at *one* sample size chosen in advance. A runner
that adds chunks of trials until the interval decides, and re-judges after every chunk, looks many
times; each look spends the error rate again, and the chance of some false FAIL grows with the
number of looks (the mutation test in ``tests/validation/test_sequential.py`` shows a fixed-n
t-interval re-checked at every look exceeding its nominal rate many times over). A *confidence
sequence* (CS) ``C_1, C_2, ...`` covers the mean at every sample size simultaneously,

    P(mu in C_t for every t >= 1) >= 1 - alpha,

so a decision read from ``C_t`` is valid at any data-dependent stopping time, after any number of
looks, and when a stopped run is resumed with more trials. This module gives two CSs and the
decisions built on them; the method, its assumptions and why stopping is safe are explained in
``docs/sequential.md``.

* :class:`BettingCS` -- observations in a known interval ``[lo, hi]`` (an accuracy difference in
  [-1, 1], a proportion): the hedged-capital betting CS of Waudby-Smith & Ramdas (2024).
  Assumption: every observation lies in ``[lo, hi]`` and has conditional mean ``mu`` given the
  earlier ones (true for independent, identically distributed Monte Carlo trials).
* :class:`TMixtureCS` -- unbounded observations with unknown variance: the scale-invariant
  Gaussian-mixture (t-) CS (Lai 1976; Wang & Ramdas 2023). Assumption: the observations are
  independent N(mu, sigma^2) with sigma unknown; for chunk means this holds approximately (CLT),
  and the guarantee is then approximate to the same degree.

Both are pure functions of the ordered observations: the state of a sequence is the array of
per-trial values in trial order, and resuming is recomputing from them (the order matters for the
betting CS, whose bets are predictable). Both use the running intersection of ``C_1..C_t``, which
is a CS as well, so a decision once reached never reverses when trials are added.

Decisions
---------
Statements and their verdicts are those of ``depthcheck.validation.claims.stats``, read from the
running-intersection CS ``[L_t, U_t]`` instead of a fixed-n interval (:class:`Statement`):

* band ``pred - delta <= theta <= pred + delta``: PASS if ``[L_t, U_t]`` lies inside the band, FAIL
  if it is disjoint from it, INCONCLUSIVE otherwise;
* ``theta <= bound``: PASS if ``U_t <= bound``, FAIL if ``L_t > bound``;
* ``theta >= bound``: PASS if ``L_t >= bound``, FAIL if ``U_t < bound``.

A false FAIL (a true statement declared violated at some look) needs the CS to miss the true mean,
so for every statement ``P(false FAIL at any look, ever) <= alpha``. For the betting CS, whose two
sides are one-sided CSs at ``alpha / 2`` each, a one-sided statement has ``<= alpha / 2``. The
running intersection can be empty (only when the CS has missed, probability ``<= alpha``); the
decision then reads FAIL first (:attr:`SequentialDecision.empty` flags it).

References
----------
.. [WSR24] I. Waudby-Smith and A. Ramdas, "Estimating means of bounded random variables by
   betting", J. R. Stat. Soc. B 86(1):1-27 (2024), arXiv:2010.09686; Section 4, the hedged
   capital process (Theorem 3) with predictable plug-in bets.
.. [Lai76] T. L. Lai, "On confidence sequences", Ann. Statist. 4(2):265-280 (1976).
.. [WR23] H. Wang and A. Ramdas, "Anytime-valid t-tests and confidence sequences for Gaussian
   means with unknown variance", arXiv:2310.03722 (2023); the Gaussian mixture over the mean
   with the right-Haar mixture over sigma, a test martingale in the scale-invariant filtration.
.. [HRMS21] S. R. Howard, A. Ramdas, J. McAuliffe and J. Sekhon, "Time-uniform, nonparametric,
   nonasymptotic confidence sequences", Ann. Statist. 49(2):1055-1080 (2021), arXiv:1810.08240;
   Ville's inequality and the running intersection (their Section 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from depthcheck.theory._checks import as_float_array, check_choice, check_positive_int

__all__ = [
    "DECISIONS", "Statement", "BettingCS", "TMixtureCS", "SequentialDecision", "TrialPlan",
    "sequential_decision", "plan_trials",
]

#: Integer codes of the decision paths: FAIL = -1, INCONCLUSIVE = 0, PASS = 1.
DECISIONS = {-1: "FAIL", 0: "INCONCLUSIVE", 1: "PASS"}

_KINDS = ("within", "upper", "lower")
_BLOCK = 1 << 16        # planner scan block: bounded memory however large max_trials is
_ROW_BLOCK = 1 << 19    # elements per block of sequences in the vectorised paths


# ------------------------------------------------------------------------------------ checks

def _check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from exc
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return a


def _check_real(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a finite number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _check_n(n) -> np.ndarray:
    a = np.atleast_1d(np.asarray(n))
    if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer) or a.min() < 1:
        raise ValueError(f"n must be an int or a 1-D array of ints >= 1, got {n!r}")
    return a


def _observations(x, name: str = "x") -> np.ndarray:
    """Float64 array of shape (..., T), T >= 1, finite (a NaN raises, it is never dropped)."""
    return as_float_array(x, name, min_ndim=1, dtype=np.float64)


def _by_rows(fn, x: np.ndarray):
    """``fn`` applied to blocks of the sequences of ``x`` (shape (..., T)), outputs of shape
    ``x.shape`` reassembled: the same numbers, computed in cache-sized pieces (about twice as
    fast for 10^4 sequences)."""
    rows = x.reshape(-1, x.shape[-1])
    step = max(1, _ROW_BLOCK // x.shape[-1])
    if rows.shape[0] <= step:
        return fn(x)
    parts = [fn(rows[i:i + step]) for i in range(0, rows.shape[0], step)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p).reshape(x.shape) for p in zip(*parts))
    return np.concatenate(parts).reshape(x.shape)


# -------------------------------------------------------------------------------- statements

@dataclass(frozen=True)
class Statement:
    """A statement about a mean ``theta``, judged three ways from a confidence set.

    ``kind`` is ``"within"`` (``lo <= theta <= hi``), ``"upper"`` (``theta <= hi``) or
    ``"lower"`` (``theta >= lo``); build one with :meth:`band`, :meth:`at_most` or
    :meth:`at_least`. :meth:`decide` applies the module's decision rules to intervals.

    Examples
    --------
    >>> s = Statement.band(0.5, 0.1)
    >>> (s.kind, s.lo, s.hi)
    ('within', 0.4, 0.6)
    >>> s.decide([0.42, 0.70, 0.30], [0.58, 0.80, 0.45]).tolist()   # inside, above, straddles
    [1, -1, 0]
    """
    kind: str
    lo: float
    hi: float

    def __post_init__(self):
        check_choice(self.kind, "kind", _KINDS)
        lo = -math.inf if self.kind == "upper" else _check_real(self.lo, "lo")
        hi = math.inf if self.kind == "lower" else _check_real(self.hi, "hi")
        if self.kind == "within" and not lo < hi:
            raise ValueError(f"band must satisfy lo < hi, got [{lo}, {hi}]")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @classmethod
    def band(cls, prediction, delta) -> "Statement":
        """``prediction - delta <= theta <= prediction + delta`` (``delta > 0``)."""
        p = _check_real(prediction, "prediction")
        d = _check_real(delta, "delta")
        if d <= 0:
            raise ValueError(f"delta must be > 0, got {delta!r}")
        return cls("within", p - d, p + d)

    @classmethod
    def at_most(cls, bound) -> "Statement":
        """``theta <= bound``."""
        return cls("upper", -math.inf, _check_real(bound, "bound"))

    @classmethod
    def at_least(cls, bound) -> "Statement":
        """``theta >= bound``."""
        return cls("lower", _check_real(bound, "bound"), math.inf)

    def decide(self, ci_lo, ci_hi) -> np.ndarray:
        """Decision codes (:data:`DECISIONS`) for intervals ``[ci_lo, ci_hi]`` (broadcast).

        FAIL if the interval is disjoint from the statement's set, PASS if it lies inside, else
        INCONCLUSIVE; FAIL is read first, so an empty interval (``ci_lo > ci_hi``) that is
        disjoint from the set is a FAIL. The rules coincide with ``stats.decide_within``,
        ``stats.decide_upper`` and ``stats.decide_lower`` on ordered intervals.
        """
        lo = np.asarray(ci_lo, dtype=np.float64)
        hi = np.asarray(ci_hi, dtype=np.float64)
        if np.isnan(lo).any() or np.isnan(hi).any():
            raise ValueError("ci_lo/ci_hi must not contain NaN")
        fail = (hi < self.lo) | (lo > self.hi)
        pas = (lo >= self.lo) & (hi <= self.hi)
        return np.where(fail, -1, np.where(pas, 1, 0)).astype(np.int8)


# ------------------------------------------------------------------------- the betting CS

class BettingCS:
    r"""Hedged-capital betting confidence sequence for the mean of observations in ``[lo, hi]``.

    Observations are rescaled to ``y = (x - lo) / (hi - lo)`` in [0, 1]. For a candidate mean
    ``m`` in [0, 1] two gamblers bet on the sign of ``y_i - m`` ([WSR24]_, Section 4):

    .. math::

        K^+_t(m) = \prod_{i \le t} \bigl(1 + \lambda^+_i(m)\,(y_i - m)\bigr),\qquad
        K^-_t(m) = \prod_{i \le t} \bigl(1 - \lambda^-_i(m)\,(y_i - m)\bigr),

    with the predictable plug-in bets ``lambda^+_i(m) = min(l_i, c/m)``,
    ``lambda^-_i(m) = min(l_i, c/(1 - m))``,

    .. math::

        l_t = \sqrt{\frac{2\log(2/\alpha)}{\hat\sigma^2_{t-1}\, t \log(1+t)}},\quad
        \hat\mu_t = \frac{1/2 + \sum_{i\le t} y_i}{t + 1},\quad
        \hat\sigma^2_t = \frac{1/4 + \sum_{i\le t}(y_i - \hat\mu_i)^2}{t + 1},\quad
        \hat\sigma^2_0 = 1/4,

    ``c = trunc`` (1/2 by default, as recommended there). Each factor is >= 1 - c > 0 and, if the
    conditional mean of ``y_i`` is ``m``, has conditional mean 1: both are nonnegative
    martingales, and by Ville's inequality each ever reaches ``2 / alpha`` with probability at
    most ``alpha / 2``. The CS is ``{m : max(K^+_t(m), K^-_t(m)) < 2 / alpha}`` (the hedged
    process ``max(K^+ / 2, K^- / 2) < 1 / alpha`` of [WSR24]_ with theta = 1/2), intersected
    over ``s <= t``. ``K^+_t(m)`` is nonincreasing and ``K^-_t(m)`` nondecreasing in ``m``, so the
    CS is an interval: ``K^+`` sets its lower end, ``K^-`` its upper end.

    Assumption (exactly): every ``x_i`` lies in ``[lo, hi]`` and ``E[x_i | x_1..x_{i-1}] = mu``
    for all ``i`` (independent identically distributed trials satisfy it). No variance or shape
    assumption; the CS adapts to the variance through the bets.

    Parameters
    ----------
    alpha : float
        Time-uniform miscoverage, in (0, 1).
    support : (float, float)
        The known range ``(lo, hi)`` of every observation; an observation outside raises.
    trunc : float
        The truncation ``c`` of the bets, in (0, 1).

    References
    ----------
    .. [WSR24] Waudby-Smith & Ramdas (2024), arXiv:2010.09686 (see the module docstring).

    Examples
    --------
    Bernoulli(1/2) draws with 60 ones in 100; the CS must contain the sample mean 0.6 and,
    being time-uniform at 5%, be wider than the fixed-n Wald interval 0.6 +- 0.096:

    >>> x = np.r_[np.ones(60), np.zeros(40)][np.random.default_rng(0).permutation(100)]
    >>> L, U = BettingCS(0.05, (0.0, 1.0)).interval(x)
    >>> bool(L < 0.6 < U) and bool(U - L > 2 * 0.096)
    True
    """
    method = "betting"

    def __init__(self, alpha, support, trunc: float = 0.5):
        self.alpha = _check_alpha(alpha)
        try:
            lo, hi = support
        except (TypeError, ValueError) as exc:
            raise ValueError(f"support must be a pair (lo, hi), got {support!r}") from exc
        self.lo = _check_real(lo, "support[0]")
        self.hi = _check_real(hi, "support[1]")
        if not self.lo < self.hi:
            raise ValueError(f"support must satisfy lo < hi, got {support!r}")
        c = _check_real(trunc, "trunc")
        if not 0.0 < c < 1.0:
            raise ValueError(f"trunc must lie in (0, 1), got {trunc!r}")
        self.trunc = c
        self.threshold = math.log(2.0 / self.alpha)    # log of 2/alpha: each side at alpha/2

    def __repr__(self):
        return f"BettingCS(alpha={self.alpha!r}, support=({self.lo!r}, {self.hi!r}), " \
               f"trunc={self.trunc!r})"

    # -- the capital processes
    def _scaled(self, x) -> np.ndarray:
        x = _observations(x)
        if (x < self.lo).any() or (x > self.hi).any():
            raise ValueError(f"x has values outside the support [{self.lo}, {self.hi}] "
                             f"(min {x.min()}, max {x.max()})")
        return np.clip((x - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def _to_unit(self, m: float) -> float:
        return (m - self.lo) / (self.hi - self.lo)

    def _bets(self, y: np.ndarray) -> np.ndarray:
        """The plug-in bets l_t (before truncation), along the last axis of y."""
        t = np.arange(1, y.shape[-1] + 1, dtype=np.float64)
        mu = np.cumsum(y, axis=-1)
        mu += 0.5
        mu /= t + 1.0                                   # mu_t
        dev = np.subtract(y, mu, out=mu)
        dev *= dev
        sig2 = np.cumsum(dev, axis=-1, out=dev)
        sig2 += 0.25                                    # (t + 1) sigma^2_t
        lam = np.empty_like(sig2)
        lam[..., 0] = 0.25
        np.divide(sig2[..., :-1], t[:-1] + 1.0, out=lam[..., 1:])      # sigma^2_{t-1}
        np.divide(2.0 * math.log(2.0 / self.alpha) / (t * np.log1p(t)), lam, out=lam)
        return np.sqrt(lam, out=lam)

    def _log_capital(self, y, bets, m, side: int) -> np.ndarray:
        """log K^+_t(m) (side=+1) or log K^-_t(m) (side=-1) for t = 1..T; m broadcasts against
        y.shape[:-1]. Outside [0, 1] the candidate is impossible: +inf on the side that excludes
        it, -inf on the other (the monotone extension)."""
        m = np.asarray(m, dtype=np.float64)[..., None]
        inside = (m >= 0.0) & (m <= 1.0)
        mm = np.clip(m, 0.0, 1.0)
        with np.errstate(divide="ignore"):
            cap = self.trunc / (mm if side > 0 else 1.0 - mm)
        # in place: these arrays are (sequences x looks) in the simulations
        step = np.subtract(y, mm)
        step *= np.minimum(bets, cap) if side > 0 else -np.minimum(bets, cap)
        logk = np.cumsum(np.log1p(step, out=step), axis=-1, out=step)
        if inside.all():
            return logk
        # side +: a candidate below 0 is excluded (+inf), above 1 never (-inf); side -: mirrored
        out = np.where(side * m < side * 0.5, np.inf, -np.inf)
        return np.where(inside, logk, out)

    def log_capital(self, x, m):
        """``(log K^+_t(m), log K^-_t(m))`` for t = 1..T, each of shape ``x.shape``.

        ``m`` (original units) broadcasts against ``x.shape[:-1]``. ``m`` is excluded from the CS
        at time t when either exceeds ``log(2 / alpha)``.
        """
        mu = self._to_unit(np.asarray(m, dtype=np.float64))
        y = self._scaled(x)
        if mu.ndim:                      # one candidate per sequence: no blocks
            b = self._bets(y)
            return self._log_capital(y, b, mu, +1), self._log_capital(y, b, mu, -1)

        def both(rows):
            b = self._bets(rows)
            return self._log_capital(rows, b, mu, +1), self._log_capital(rows, b, mu, -1)
        return _by_rows(both, y)

    # -- decisions and intervals
    def decision_path(self, x, statement: Statement) -> np.ndarray:
        """Decision codes at every look t = 1..T (shape ``x.shape``), from the running
        intersection of the CS.

        Read from the capital at the statement's endpoints, without root finding: the running
        lower end ``L_t >= a`` iff ``max_{s<=t} log K^+_s(a) >= log(2/alpha)``, and the upper end
        ``U_t <= a`` iff the same holds for ``K^-``. FAIL has priority. Up to ties of probability
        zero this equals ``statement.decide(*self.interval(x[..., :t]))``.
        """
        if not isinstance(statement, Statement):
            raise ValueError(f"statement must be a Statement, got {type(statement).__name__}")
        return _by_rows(lambda y: self._decision_path(y, statement), self._scaled(x))

    def _decision_path(self, y, statement):
        b = self._bets(y)
        thr = self.threshold

        def crossed(m, side):
            # running maximum: the running intersection of the CS
            logk = self._log_capital(y, b, self._to_unit(m), side)
            return np.maximum.accumulate(logk, axis=-1, out=logk) >= thr

        if statement.kind == "upper":        # theta <= hi
            fail, pas = crossed(statement.hi, +1), crossed(statement.hi, -1)
        elif statement.kind == "lower":      # theta >= lo
            fail, pas = crossed(statement.lo, -1), crossed(statement.lo, +1)
        else:
            fail = crossed(statement.hi, +1) | crossed(statement.lo, -1)
            pas = crossed(statement.lo, +1) & crossed(statement.hi, -1)
        return np.where(fail, -1, np.where(pas, 1, 0)).astype(np.int8)

    def interval(self, x, *, tol: float = 1e-12):
        """The running-intersection CS ``[L_T, U_T]`` after all T observations.

        ``x`` of shape (..., T); returns two arrays of shape ``x.shape[:-1]`` (floats for 1-D
        ``x``). Found by bisection on the monotone running-maximum capital, to ``tol`` times
        ``hi - lo``, rounded outwards (the returned interval contains the exact one). If it is
        empty, ``L_T > U_T`` is returned as such.
        """
        y = self._scaled(x)
        b = self._bets(y)
        thr = self.threshold
        batch = y.shape[:-1]

        def excluded(m, side):
            return np.max(self._log_capital(y, b, m, side), axis=-1) >= thr

        n_iter = max(1, int(math.ceil(math.log2(1.0 / tol))))
        ends = []
        for side in (+1, -1):
            # side +1: excluded set is [0, L]; side -1: excluded set is [U, 1]
            inner = np.full(batch, 0.0 if side > 0 else 1.0)     # an end that is excluded...
            outer = np.full(batch, 1.0 if side > 0 else 0.0)     # ...and one that is not
            none = ~excluded(inner, side)                        # nothing excluded: L = 0 / U = 1
            every = excluded(outer, side)                        # everything excluded
            for _ in range(n_iter):
                mid = 0.5 * (inner + outer)
                ex = excluded(mid, side)
                inner = np.where(ex, mid, inner)
                outer = np.where(ex, outer, mid)
            end = np.where(none, 0.0 if side > 0 else 1.0, np.where(every, outer, inner))
            ends.append(self.lo + (self.hi - self.lo) * end)
        L, U = ends
        if L.ndim == 0:
            return float(L), float(U)
        return L, U

    def approx_half_width(self, n, sd, mean) -> np.ndarray:
        """Predicted half-width of the CS after ``n`` observations of standard deviation ``sd``
        and mean ``mean``.

        A stated approximation, for planning only: the bets take their deterministic values with
        ``sigma_hat^2_{t-1} = (1/4 + (t - 1) s^2) / t`` (``s = sd / (hi - lo)``), truncated at
        ``c / m`` (lower end) and ``c / (1 - m)`` (upper end) with ``m`` the rescaled ``mean``;
        ``log K^+_n(m - d)`` is replaced by its second-order mean
        ``d * sum(l) - (s^2 + d^2) * sum(l^2) / 2``, and the half-width of one end is the smallest
        ``d`` at which that reaches ``log(2 / alpha)`` (infinite if none). The larger of the two
        ends is returned. ``n`` is an int or 1-D array of ints >= 1.
        """
        n = _check_n(n)
        blocks = self._half_width_blocks(sd, mean, int(n.max()), block=int(n.max()))
        return next(blocks)[1][n - 1]

    def _planned_bets(self, t: np.ndarray, s: float, cap: float) -> np.ndarray:
        sig2 = (0.25 + (t - 1.0) * s * s) / t
        return np.minimum(np.sqrt(2.0 * math.log(2.0 / self.alpha) / (sig2 * t * np.log1p(t))),
                          cap)

    def _quadratic_root(self, L1, L2, s):
        # smallest d >= 0 with  d*L1 - (s^2 + d^2)*L2/2 = log(2/alpha)
        a, bq, cq = L2 / 2.0, L1, L2 * s * s / 2.0 + self.threshold
        disc = bq * bq - 4.0 * a * cq
        with np.errstate(invalid="ignore"):
            d = (bq - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
        return np.where(disc >= 0.0, d, np.inf)

    def _half_width_blocks(self, sd, mean, stop, block=_BLOCK):
        """(n, predicted half-width) in blocks for n = 1..stop, with running sums carried."""
        s = _check_real(sd, "sd") / (self.hi - self.lo)
        if s < 0:
            raise ValueError(f"sd must be >= 0, got {sd!r}")
        m = min(max(self._to_unit(_check_real(mean, "mean")), 0.0), 1.0)
        with np.errstate(divide="ignore"):
            caps = (self.trunc / m if m > 0 else math.inf,
                    self.trunc / (1.0 - m) if m < 1 else math.inf)
        sums = [[0.0, 0.0], [0.0, 0.0]]
        for start in range(1, stop + 1, block):
            t = np.arange(start, min(start + block, stop + 1), dtype=np.float64)
            hw = []
            for side, cap in enumerate(caps):
                lam = self._planned_bets(t, s, cap)
                c1 = sums[side][0] + np.cumsum(lam)
                c2 = sums[side][1] + np.cumsum(lam * lam)
                sums[side] = [float(c1[-1]), float(c2[-1])]
                hw.append(self._quadratic_root(c1, c2, s))
            yield t.astype(np.int64), (self.hi - self.lo) * np.maximum(*hw)


# ---------------------------------------------------------------------- the t-mixture CS

class TMixtureCS:
    r"""Confidence sequence for a Gaussian mean with unknown variance (scale-invariant mixture).

    For a candidate mean ``m`` let ``S_t = sum_{i<=t} (x_i - m)`` and
    ``V_t = sum_{i<=t} (x_i - m)^2``. Mixing the likelihood ratio of N(m + delta*sigma, sigma^2)
    against N(m, sigma^2) over a Gaussian prior ``delta ~ N(0, 1/c)`` on the standardised effect,
    and over sigma with the right-Haar measure ``d sigma / sigma`` under both hypotheses, gives

    .. math::

        M_t(m) = \sqrt{\frac{c}{t + c}}\,\Bigl(1 - \frac{S_t^2}{(t + c)\,V_t}\Bigr)^{-t/2},
        \qquad M_1 = 1 .

    Both mixtures are over the scale group, so ``M_t(m)`` is the likelihood ratio of the
    scale-maximal invariant ``(x_1 - m, ..., x_t - m) / |x_1 - m|``: under the null it is a
    nonnegative martingale with mean 1 in the filtration that invariant generates ([Lai76]_;
    [WR23]_, the Gaussian-mixture variant). Ville's inequality in that filtration gives
    ``P(exists t: M_t(mu) >= 1/alpha) <= alpha`` -- a statement about the whole path, hence valid
    at any stopping time. Solving ``M_t(m) < 1/alpha`` for ``m`` gives the closed form

    .. math::

        C_t = \bar x_t \pm s_t \sqrt{\frac{b_t}{t - b_t}},\qquad
        b_t = (t + c)\Bigl(1 - \bigl(\tfrac{\alpha^2 c}{t + c}\bigr)^{1/t}\Bigr),

    with ``s_t^2 = (1/t) sum (x_i - xbar_t)^2``, and ``C_t = R`` while ``b_t >= t``. The CS is
    intersected over ``s <= t``.

    Assumption (exactly): ``x_1, x_2, ...`` are independent N(mu, sigma^2), sigma > 0 unknown
    and the same for all. Observations that are only approximately Gaussian (means of chunks of
    trials, by the CLT) make the guarantee approximate; the chunks must then have equal sizes,
    or their means have different variances. A variance *estimate* plugged into the
    known-variance normal-mixture boundary of Robbins is not a CS; this mixture over sigma is
    what replaces it.

    Parameters
    ----------
    alpha : float
        Time-uniform miscoverage, in (0, 1).
    c : float
        Prior precision of the standardised effect (> 0); it must not depend on the data. Larger
        ``c`` narrows the CS at large t and widens it at small t. At alpha = 1e-5, ``c = 1``
        gives a bounded CS from t = 11 on and is within 9% of the narrowest choice of ``c`` for
        every t from 30 to 10^4 (``c = 0.1``: bounded from t = 7 on).

    References
    ----------
    .. [Lai76] Lai (1976), Ann. Statist. 4(2):265-280 (see the module docstring).
    .. [WR23] Wang & Ramdas (2023), arXiv:2310.03722.

    Examples
    --------
    At t = 1 no scale-free information exists and the CS is the whole line; with c = 1 and
    alpha = 0.05, t = 2 gives b = 3 (1 - (0.0025/3)^(1/2)) = 2.913 > 2, still the whole line:

    >>> cs = TMixtureCS(0.05)
    >>> cs.interval([1.0, 2.0])
    (-inf, inf)
    >>> L, U = cs.interval(np.random.default_rng(1).normal(size=400))
    >>> bool(L < 0.0 < U) and bool(0.2 < U - L < 0.8)
    True
    """
    method = "t-mixture"

    def __init__(self, alpha, c: float = 1.0):
        self.alpha = _check_alpha(alpha)
        self.c = _check_real(c, "c")
        if self.c <= 0:
            raise ValueError(f"c must be > 0, got {c!r}")

    def __repr__(self):
        return f"TMixtureCS(alpha={self.alpha!r}, c={self.c!r})"

    def _radius_factor(self, t: np.ndarray) -> np.ndarray:
        """sqrt(b_t / (t - b_t)), infinite while b_t >= t."""
        log_q = (2.0 * math.log(self.alpha) + math.log(self.c) - np.log(t + self.c)) / t
        b = (t + self.c) * -np.expm1(log_q)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(b / (t - b))
        return np.where(b < t, r, np.inf)

    def path(self, x):
        """``(L_t, U_t)`` of the running-intersection CS for t = 1..T, each of shape ``x.shape``."""
        return _by_rows(self._path, _observations(x))

    def _path(self, x):
        t = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
        shift = x[..., :1]                      # numerical only: the CS is shift-equivariant
        z = x - shift
        mean = np.cumsum(z, axis=-1) / t
        var = np.maximum(np.cumsum(z * z, axis=-1) / t - mean * mean, 0.0)
        r = self._radius_factor(t)
        with np.errstate(invalid="ignore"):
            w = np.where(np.isinf(r), np.inf, np.sqrt(var) * r)
        center = shift + mean
        return (np.maximum.accumulate(center - w, axis=-1),
                np.minimum.accumulate(center + w, axis=-1))

    def interval(self, x):
        """The running-intersection CS after all T observations (see :meth:`path`)."""
        L, U = self.path(x)
        L, U = L[..., -1], U[..., -1]
        if L.ndim == 0:
            return float(L), float(U)
        return L, U

    def decision_path(self, x, statement: Statement) -> np.ndarray:
        """Decision codes at every look t = 1..T (shape ``x.shape``)."""
        if not isinstance(statement, Statement):
            raise ValueError(f"statement must be a Statement, got {type(statement).__name__}")
        return statement.decide(*self.path(x))

    def approx_half_width(self, n, sd, mean=None) -> np.ndarray:
        """Predicted half-width after ``n`` observations: ``sd * sqrt(b_n / (n - b_n))``.

        The stated approximation is that the future ``s_n`` equals ``sd`` (the pilot's); the
        width does not depend on ``mean`` (accepted for a common signature with
        :class:`BettingCS`).
        """
        n = _check_n(n)
        s = _check_real(sd, "sd")
        if s < 0:
            raise ValueError(f"sd must be >= 0, got {sd!r}")
        r = self._radius_factor(n.astype(np.float64))
        return np.where(np.isinf(r), np.inf, s * r)

    def _half_width_blocks(self, sd, mean, stop, block=_BLOCK):
        for start in range(1, stop + 1, block):
            n = np.arange(start, min(start + block, stop + 1), dtype=np.int64)
            yield n, self.approx_half_width(n, sd)


# ------------------------------------------------------------------------- the runner's API

@dataclass(frozen=True)
class SequentialDecision:
    """The decision of one statement after ``n`` observations.

    ``decision`` is PASS / FAIL / INCONCLUSIVE; ``ci`` the running-intersection CS ``(L, U)``
    (``±inf`` while the t-mixture CS is unbounded; ``L > U`` when ``empty``); ``estimate`` the
    sample mean; ``decided_at`` the number of observations at which the current PASS / FAIL was
    first reached (``None`` while INCONCLUSIVE); ``method`` and ``alpha`` identify the CS.
    """
    decision: str
    estimate: float
    ci: tuple[float, float]
    n: int
    alpha: float
    method: str
    decided_at: int | None
    empty: bool


def sequential_decision(x, statement: Statement, cs) -> SequentialDecision:
    """Judge ``statement`` from all observations so far with the confidence sequence ``cs``.

    A pure function of the ordered 1-D array ``x`` (per-trial values, or the means of equal-size
    chunks for :class:`TMixtureCS`, in trial order): a runner stores ``x``, appends new chunks
    and calls it again, before or after a restart alike. The decision is valid whenever the
    runner stops (``P(false FAIL ever) <= cs.alpha``) and, being read from the running
    intersection, never reverses once reached.

    Examples
    --------
    Observations in [-1, 1] with mean 0.3, against the band 0 +- 0.1 (FAIL) and against
    ``theta <= 0.5`` (PASS):

    >>> rng = np.random.default_rng(2)
    >>> x = np.clip(rng.normal(0.3, 0.2, size=400), -1, 1)
    >>> cs = BettingCS(1e-5, (-1.0, 1.0))
    >>> d = sequential_decision(x, Statement.band(0.0, 0.1), cs)
    >>> d.decision, d.n, d.decided_at < 400
    ('FAIL', 400, True)
    >>> sequential_decision(x, Statement.at_most(0.5), cs).decision
    'PASS'
    """
    x = _observations(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D (one sequence in trial order), got shape {x.shape}")
    if not isinstance(cs, (BettingCS, TMixtureCS)):
        raise ValueError(f"cs must be a BettingCS or a TMixtureCS, got {type(cs).__name__}")
    codes = cs.decision_path(x, statement)
    code = int(codes[-1])
    decided_at = None
    if code != 0:
        # the running intersection makes the code path monotone once nonzero
        decided_at = int(np.flatnonzero(codes != code)[-1] + 2) if (codes != code).any() else 1
    L, U = cs.interval(x)
    return SequentialDecision(DECISIONS[code], float(np.mean(x)), (float(L), float(U)),
                              int(x.shape[0]), cs.alpha, cs.method, decided_at, bool(L > U))


@dataclass(frozen=True)
class TrialPlan:
    """How many observations a statement needs, predicted from a pilot (:func:`plan_trials`).

    ``n_total`` observations in all (capped at ``max_trials``), ``n_more = n_total - n_now``;
    ``reachable`` is False when the predicted half-width does not reach ``target_half_width``
    (``delta / 2``) within ``max_trials``; ``predicted_half_width`` is the prediction at
    ``n_total``; ``current_half_width`` the half-width of the CS on the pilot itself.
    """
    n_now: int
    n_total: int
    n_more: int
    reachable: bool
    target_half_width: float
    predicted_half_width: float
    current_half_width: float


def plan_trials(x, delta, cs, *, max_trials: int) -> TrialPlan:
    """Observations needed for the CS half-width to fall below ``delta / 2``, from a pilot ``x``.

    The pilot gives the mean and standard deviation (``ddof=1``); ``cs.approx_half_width``
    predicts the half-width at each n with the approximation stated there, and the plan is the
    first ``n`` at which the prediction is ``<= delta / 2``, capped at ``max_trials``. A
    half-width of ``delta / 2`` decides a band of half-width ``delta`` whose true value lies at
    its centre or at least ``delta`` outside it, in all but a small fraction of runs (measured in
    ``tests/validation/test_sequential.py``); nearer the edge more trials are needed, and the
    runner simply keeps adding chunks while the decision is INCONCLUSIVE.

    Examples
    --------
    >>> x = np.random.default_rng(3).normal(0.0, 1.0, size=50)
    >>> p = plan_trials(x, 0.5, TMixtureCS(1e-5), max_trials=10**6)
    >>> p.reachable and p.n_total > 50 and p.predicted_half_width <= 0.25
    True
    """
    x = _observations(x)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"x must be 1-D with at least 2 values, got shape {x.shape}")
    d = _check_real(delta, "delta")
    if d <= 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    if not isinstance(cs, (BettingCS, TMixtureCS)):
        raise ValueError(f"cs must be a BettingCS or a TMixtureCS, got {type(cs).__name__}")
    n_now = int(x.shape[0])
    max_trials = check_positive_int(max_trials, "max_trials", minimum=n_now)
    target = d / 2.0
    sd, mean = float(np.std(x, ddof=1)), float(np.mean(x))
    n_total, hw_at = max_trials, math.inf
    reachable = False
    for n, hw in cs._half_width_blocks(sd, mean, max_trials):
        hit = np.flatnonzero(hw <= target)
        if hit.size:
            n_total, hw_at, reachable = int(n[hit[0]]), float(hw[hit[0]]), True
            break
        hw_at = float(hw[-1])
    n_total = max(n_total, n_now)
    if reachable and n_total == n_now:
        hw_at = float(cs.approx_half_width(n_now, sd, mean)[0])
    L, U = cs.interval(x)
    return TrialPlan(n_now, n_total, n_total - n_now, reachable, target, hw_at,
                     float((U - L) / 2.0))
