"""Tests of depthcheck.validation.claims.sequential: anytime validity by simulation, power, the
planner, resuming, an independent re-derivation of each confidence sequence, and bad input.

The error-rate checks run 10^4 synthetic sequences with a look after *every* observation and
count a false FAIL if any look FAILs. They use alpha = 0.05 so that the rate is measurable, and
accept a rate only if its exact (Clopper-Pearson) one-sided upper confidence bound at level
1 - 1e-3 lies below the promised rate. The mutation tests push a fixed-n t-interval, re-checked at
every look, through the same check and show that it fails it: the check can fail.
"""
import doctest
import math

import numpy as np
import pytest
from scipy.special import stdtrit
from scipy.stats import beta

from depthcheck.validation.claims import sequential as SQ
from depthcheck.validation.claims.sequential import (BettingCS, Statement, TMixtureCS,
                                                     plan_trials, sequential_decision)

N_SEQ = 10_000          # sequences per simulation (the issue asks for 10^4)
ALPHA = 0.05            # test level: large enough for the rate to be measured
CONF = 1e-3             # the binomial bounds are one-sided at level 1 - CONF
T_NULL = 500            # looks per sequence under the null
WIDTH = 0.4             # bounded data: theta + WIDTH * (U1 + U2 - 1), triangular, in [-1, 1]
DELTA_B = 0.1           # band half-width for the bounded scenarios
DELTA_G = 0.5           # band half-width for the Gaussian scenarios (sigma = 1)


def upper_bound(k: int, n: int) -> float:
    """Exact one-sided Clopper-Pearson upper bound (level 1 - CONF) of a binomial rate."""
    return 1.0 if k >= n else float(beta.ppf(1.0 - CONF, k + 1, n - k))


def lower_bound(k: int, n: int) -> float:
    """Exact one-sided Clopper-Pearson lower bound (level 1 - CONF) of a binomial rate."""
    return 0.0 if k == 0 else float(beta.ppf(CONF, k, n - k + 1))


def assert_rate_below(hits, rate: float, what: str):
    """The rate of ``hits`` is below ``rate``: its exact upper confidence bound is."""
    k, n = int(np.sum(hits)), int(np.size(hits))
    ub = upper_bound(k, n)
    assert ub <= rate, f"{what}: {k}/{n} = {k / n:.4f}, upper bound {ub:.4f} > {rate}"


def ever(codes, code):
    return (codes == code).any(axis=-1)


def first_time(codes, code):
    """1-based first look at which ``code`` appears (a huge number if never)."""
    hit = codes == code
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, 10**9)


def bounded(rng, theta, T, n=N_SEQ):
    u = rng.random((2, n, T))
    return theta + WIDTH * (u[0] + u[1] - 1.0)


def naive_t_path(x, alpha):
    """A fixed-n Student-t interval recomputed at every look t >= 2: NOT a confidence sequence."""
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    m = np.cumsum(x, axis=-1) / t
    var = np.maximum(np.cumsum(x * x, axis=-1) - t * m * m, 0.0) / np.maximum(t - 1, 1)
    h = stdtrit(np.maximum(t - 1, 1), 1 - alpha / 2) * np.sqrt(var / t)
    h[..., 0] = np.inf                                         # no interval from one value
    return m - h, m + h


# ------------------------------------------------------------------------- shared simulations

@pytest.fixture(scope="module")
def bounded_null():
    """Bounded data whose mean 0.1 sits on the statements' boundary (worst case for FAIL)."""
    return bounded(np.random.default_rng(11), 0.1, T_NULL)


@pytest.fixture(scope="module")
def gauss_null():
    return np.random.default_rng(12).normal(DELTA_G, 1.0, (N_SEQ, T_NULL))


@pytest.fixture(scope="module")
def gauss_null_cs(gauss_null):
    """The t-mixture CS path (L_t, U_t) on ``gauss_null``."""
    return TMixtureCS(ALPHA).path(gauss_null)


@pytest.fixture(scope="module")
def betting():
    return BettingCS(ALPHA, (-1.0, 1.0))


# --------------------------------------------------------------- anytime validity (the null)

def test_betting_one_sided_null_false_fail(bounded_null, betting):
    # theta = 0.1 and the statement theta <= 0.1 is true; a FAIL at any of 500 looks is false.
    # One side of the betting CS runs at alpha/2, so the promise here is alpha/2.
    codes = betting.decision_path(bounded_null, Statement.at_most(0.1))
    assert_rate_below(ever(codes, -1), ALPHA / 2, "betting, theta <= bound")


def test_betting_band_null_false_fail(bounded_null, betting):
    # band 0 +- 0.1 with theta = 0.1 on its upper edge: true, and as close to FAIL as can be
    codes = betting.decision_path(bounded_null, Statement.band(0.0, DELTA_B))
    assert_rate_below(ever(codes, -1), ALPHA, "betting, band at its edge")


def test_tmixture_null_false_fail(gauss_null_cs):
    L, U = gauss_null_cs
    for s in (Statement.band(0.0, DELTA_G), Statement.at_most(DELTA_G)):
        assert_rate_below(ever(s.decide(L, U), -1), ALPHA, f"t-mixture, {s.kind}")


def test_betting_covers_the_whole_path(bounded_null, betting):
    # P(mu in C_t for every t <= 500) >= 1 - alpha, read from the capital at the true mean
    kp, km = betting.log_capital(bounded_null, 0.1)
    miss = (kp.max(axis=-1) >= betting.threshold) | (km.max(axis=-1) >= betting.threshold)
    assert_rate_below(miss, ALPHA, "betting coverage, triangular data")


def test_betting_covers_skewed_data_near_the_edge():
    # Bernoulli(0.1) on [0, 1]: skewed, the mean near the edge of the support, where the bets
    # are truncated at c/m; coverage must not depend on the shape of the law
    x = (np.random.default_rng(13).random((N_SEQ, T_NULL)) < 0.1).astype(float)
    cs = BettingCS(ALPHA, (0.0, 1.0))
    kp, km = cs.log_capital(x, 0.1)
    miss = (kp.max(axis=-1) >= cs.threshold) | (km.max(axis=-1) >= cs.threshold)
    assert_rate_below(miss, ALPHA, "betting coverage, Bernoulli(0.1)")


def test_tmixture_covers_the_whole_path(gauss_null_cs):
    L, U = gauss_null_cs
    miss = ((L > DELTA_G) | (U < DELTA_G)).any(axis=-1)
    assert_rate_below(miss, ALPHA, "t-mixture coverage")


# ------------------------------------------------------- mutation: the check can fail

@pytest.mark.parametrize("data", ["bounded", "gauss"])
def test_fixed_n_interval_rechecked_at_every_look_fails_the_check(data, bounded_null, gauss_null):
    x, bound = (bounded_null, 0.1) if data == "bounded" else (gauss_null, DELTA_G)
    L, U = naive_t_path(x, ALPHA)
    codes = Statement.at_most(bound).decide(L, U)
    # at the single planned n the fixed-n interval is fine ...
    assert_rate_below(codes[:, -1] == -1, ALPHA, "fixed-n t-interval, one look")
    # ... but re-checked at every look it exceeds alpha, and the very check used above says so
    hits = ever(codes, -1)
    assert lower_bound(int(hits.sum()), hits.size) > ALPHA
    with pytest.raises(AssertionError):
        assert_rate_below(hits, ALPHA, "fixed-n t-interval, every look")


# -------------------------------------------------------------- power: the decision arrives

def _plan(cs, theta, sampler, delta):
    pilot = sampler(np.random.default_rng(21), theta, 50, 1)[0]
    return plan_trials(pilot, delta, cs, max_trials=10**5)


def test_betting_fail_arrives_within_the_planned_trials(betting):
    plan = _plan(betting, 0.0, bounded, DELTA_B)
    n = plan.n_total
    assert plan.reachable and 100 <= n <= 400, plan     # the stated number of trials
    # true value delta beyond the edge of the band (2 delta from the prediction) ...
    x = bounded(np.random.default_rng(22), 2 * DELTA_B, n)
    assert np.mean(first_time(betting.decision_path(x, Statement.band(0.0, DELTA_B)), -1)
                   <= n) >= 0.99
    # ... and delta above a one-sided bound
    assert np.mean(first_time(betting.decision_path(x, Statement.at_most(DELTA_B)), -1)
                   <= n) >= 0.99
    # at the centre of the band, PASS arrives within the same budget
    x = bounded(np.random.default_rng(23), 0.0, n)
    assert np.mean(first_time(betting.decision_path(x, Statement.band(0.0, DELTA_B)), 1)
                   <= n) >= 0.99


def test_tmixture_fail_arrives_within_the_planned_trials():
    cs = TMixtureCS(ALPHA)
    plan = _plan(cs, 0.0, lambda rng, th, T, n: rng.normal(th, 1.0, (n, T)), DELTA_G)
    n = plan.n_total
    assert plan.reachable and 100 <= n <= 400, plan
    rng = np.random.default_rng(24)
    for theta, code in ((2 * DELTA_G, -1), (0.0, 1)):
        L, U = cs.path(rng.normal(theta, 1.0, (N_SEQ, n)))
        assert np.mean(first_time(Statement.band(0.0, DELTA_G).decide(L, U), code) <= n) >= 0.99


@pytest.mark.parametrize("kind", ["betting", "t-mixture"])
def test_planned_half_width_matches_the_realised_one(kind):
    # the planner's stated approximation, checked: at the planned n the median realised
    # half-width is within [0.6, 1.25] of the target delta/2 (the running intersection makes
    # it a little narrower than predicted)
    rng = np.random.default_rng(25)
    if kind == "betting":
        cs, delta = BettingCS(ALPHA, (-1.0, 1.0)), DELTA_B
        pilot, draw = bounded(rng, 0.0, 50, 1)[0], lambda n: bounded(rng, 0.0, n, 300)
    else:
        cs, delta = TMixtureCS(ALPHA), DELTA_G
        pilot, draw = rng.normal(0.0, 1.0, 50), lambda n: rng.normal(0.0, 1.0, (300, n))
    plan = plan_trials(pilot, delta, cs, max_trials=10**5)
    L, U = cs.interval(draw(plan.n_total))
    ratio = np.median((U - L) / 2) / (delta / 2)
    assert 0.6 <= ratio <= 1.25, ratio


def test_plan_is_capped_by_the_budget():
    x = np.random.default_rng(26).normal(0.0, 1.0, 40)
    cs = TMixtureCS(1e-5)
    p = plan_trials(x, 0.01, cs, max_trials=1000)
    assert (p.reachable, p.n_total, p.n_more) == (False, 1000, 960)
    assert p.predicted_half_width > 0.005
    big = plan_trials(x, 0.01, cs, max_trials=10**7)       # scanned in blocks
    assert big.reachable and 1000 < big.n_total < 10**7
    assert cs.approx_half_width(big.n_total, np.std(x, ddof=1))[0] <= 0.005
    assert cs.approx_half_width(big.n_total - 1, np.std(x, ddof=1))[0] > 0.005
    # a pilot already narrow enough needs no more trials
    done = plan_trials(x, 100.0, cs, max_trials=1000)
    assert done.reachable and done.n_more == 0 and done.n_total == 40


# --------------------------------------------------------- resuming and monotone decisions

@pytest.mark.parametrize("kind", ["betting", "t-mixture"])
def test_resume_recomputes_the_same_decision(kind):
    rng = np.random.default_rng(31)
    if kind == "betting":
        cs, x, s = BettingCS(1e-3, (-1.0, 1.0)), bounded(rng, 0.3, 600, 1)[0], \
            Statement.band(0.0, DELTA_B)
    else:
        cs, x, s = TMixtureCS(1e-3), rng.normal(0.9, 1.0, 300), Statement.band(0.0, DELTA_G)
    codes = cs.decision_path(x, s)
    assert codes[-1] == -1                          # the scenario does reach a decision
    for k in (1, 7, 50, 150, 299, len(x)):
        # a runner that stopped after k trials and restarts from the stored values
        d = sequential_decision(x[:k], s, cs)
        assert d.decision == SQ.DECISIONS[int(codes[k - 1])]
        assert d.n == k
    d = sequential_decision(x, s, cs)
    first = int(np.argmax(codes == -1)) + 1
    assert d.decided_at == first and (codes[first - 1:] == -1).all()
    assert d.ci[1] < s.lo or d.ci[0] > s.hi          # the reported interval agrees
    assert sequential_decision(x[:first - 1], s, cs).decision != "FAIL"


@pytest.mark.parametrize("kind", ["betting", "t-mixture"])
def test_decisions_never_revert(kind, betting):
    # true means spread over [-0.3, 0.3] against the band 0 +- 0.1: many PASS and many FAIL
    rng = np.random.default_rng(32)
    theta = rng.uniform(-0.3, 0.3, (2000, 1))
    if kind == "betting":
        codes = betting.decision_path(bounded(rng, theta, 300, 2000), Statement.band(0.0, DELTA_B))
    else:
        codes = TMixtureCS(ALPHA).decision_path(rng.normal(theta, 0.2, (2000, 300)),
                                                Statement.band(0.0, DELTA_B))
    assert (codes[:, -1] == 1).sum() > 300 and (codes[:, -1] == -1).sum() > 300
    # once decided, a path keeps its decision (running intersection)
    first = np.where((codes != 0).any(axis=-1), (codes != 0).argmax(axis=-1), 0)
    assert np.all(codes == np.where(np.arange(300) >= first[:, None],
                                    codes[np.arange(2000), first][:, None], 0))


# -------------------------------------------------- the CSs against independent derivations

def _wsr_capital_loop(y, m, alpha, c=0.5):
    """Waudby-Smith & Ramdas' hedged capital, written as a plain loop over t from the paper's
    formulas (arXiv:2010.09686, Section 4), for y in [0, 1]."""
    kp = km = 1.0
    s1 = 0.0
    s2 = 0.0
    sig2_prev = 0.25
    out = []
    for t, yt in enumerate(y, start=1):
        lam = math.sqrt(2 * math.log(2 / alpha) / (sig2_prev * t * math.log(1 + t)))
        lp = min(lam, c / m) if m > 0 else lam
        lm = min(lam, c / (1 - m)) if m < 1 else lam
        kp *= 1 + lp * (yt - m)
        km *= 1 - lm * (yt - m)
        out.append((math.log(kp), math.log(km)))
        s1 += yt
        mu_t = (0.5 + s1) / (t + 1)
        s2 += (yt - mu_t) ** 2
        sig2_prev = (0.25 + s2) / (t + 1)
    return np.array(out).T


def test_betting_capital_matches_the_papers_formulas():
    rng = np.random.default_rng(41)
    x = bounded(rng, 0.2, 80, 1)[0]
    cs = BettingCS(0.01, (-1.0, 1.0))
    for m in (-0.3, 0.0, 0.2, 0.55, 0.99):
        kp, km = cs.log_capital(x, m)
        ref = _wsr_capital_loop((x + 1) / 2, (m + 1) / 2, 0.01)
        np.testing.assert_allclose(kp, ref[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(km, ref[1], rtol=1e-10, atol=1e-12)
    # a candidate outside the support is excluded at once, on the right side
    kp, km = cs.log_capital(x, 1.5)
    assert np.all(km == np.inf) and np.all(kp == -np.inf)


def test_betting_interval_agrees_with_the_threshold_decisions():
    # the bisection interval and the root-free decisions are two readings of one CS
    rng = np.random.default_rng(42)
    cs = BettingCS(0.05, (-1.0, 1.0))
    x = bounded(rng, 0.05, 150, 200)
    L, U = cs.interval(x)
    assert np.all(L <= U)
    for pred, delta in ((0.0, 0.1), (0.05, 0.04), (0.2, 0.1), (-0.1, 0.12)):
        s = Statement.band(pred, delta)
        np.testing.assert_array_equal(cs.decision_path(x, s)[:, -1], s.decide(L, U))
    for b in (-0.05, 0.0, 0.05, 0.1):
        for s in (Statement.at_most(b), Statement.at_least(b)):
            np.testing.assert_array_equal(cs.decision_path(x, s)[:, -1], s.decide(L, U))
    # the interval is where the running-maximum capital stays below 2/alpha
    kp, km = cs.log_capital(x[:5], L[:5] - 1e-6)
    assert np.all(kp.max(axis=-1) >= cs.threshold)
    kp, km = cs.log_capital(x[:5], (L[:5] + U[:5]) / 2)
    assert np.all(np.maximum(kp.max(axis=-1), km.max(axis=-1)) < cs.threshold)


def test_tmixture_closed_form_matches_the_mixture_martingale():
    # log M_t(m) = 1/2 log(c/(t+c)) - t/2 log(1 - S_t^2/((t+c) V_t)), the Gaussian-mixture /
    # right-Haar martingale; m is in the running-intersection CS iff max_{s<=t} M_s(m) < 1/alpha
    rng = np.random.default_rng(43)
    x = rng.normal(3.0, 2.0, 60)
    alpha, c = 0.05, 2.0
    cs = TMixtureCS(alpha, c=c)
    L, U = cs.path(x)
    grid = np.linspace(0.0, 6.0, 1201)[:, None]
    t = np.arange(1, 61)
    S = np.cumsum(x - grid, axis=1)
    V = np.cumsum((x - grid) ** 2, axis=1)
    logM = 0.5 * np.log(c / (t + c)) - t / 2 * np.log1p(-S**2 / ((t + c) * V))
    inside = np.maximum.accumulate(logM, axis=1) < math.log(1 / alpha)
    g = grid[:, 0][:, None]
    eps = 1e-9
    assert np.all(inside[(g > L + eps) & (g < U - eps)])
    assert not np.any(inside[(g < L - eps) | (g > U + eps)])
    assert np.isinf(L[0]) and np.isfinite(L[-1])       # R at t = 1, bounded later


def test_tmixture_hand_values():
    # c = 1, alpha = 0.05. t = 2: b = 3 (1 - (0.0025/3)^(1/2)) = 2.913 >= 2, so C_2 = R;
    # t = 4: b = 5 (1 - 0.0005^(1/4)) = 4.25 >= 4, still R
    cs = TMixtureCS(0.05)
    assert cs.interval([0.0, 1.0]) == (-math.inf, math.inf)
    assert cs.interval([0.0, 1.0, 2.0, 3.0]) == (-math.inf, math.inf)
    # t = 5, x = 0..4: mean 2, s_5^2 = 10/5 = 2; (0.0025/6)^(1/5) = exp(-7.783/5) = 0.2108,
    # b = 6 (1 - 0.2108) = 4.735, half-width = sqrt(2) sqrt(4.735 / 0.265) = 5.98
    L, U = cs.interval(np.arange(5.0))
    assert (L + U) / 2 == pytest.approx(2.0, abs=1e-12)
    assert (U - L) / 2 == pytest.approx(5.98, abs=0.01)


def test_statement_rules():
    s = Statement.band(1.0, 0.5)
    assert s.decide([0.6, 1.6, 0.4, 0.4], [1.4, 2.0, 0.49, 0.8]).tolist() == [1, -1, -1, 0]
    assert Statement.at_most(1.0).decide([0.0, 1.1, 0.9], [1.0, 2.0, 1.2]).tolist() == [1, -1, 0]
    assert Statement.at_least(1.0).decide([1.0, 0.0, 0.9], [3.0, 0.9, 1.2]).tolist() == [1, -1, 0]
    # an empty interval disjoint from the set reads FAIL first
    assert s.decide([1.7], [1.6]).tolist() == [-1]


def test_docstring_examples():
    res = doctest.testmod(SQ, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 10 and res.failed == 0


# -------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, name", [
    (lambda: BettingCS(0.0, (0, 1)), "alpha"),
    (lambda: BettingCS(1.0, (0, 1)), "alpha"),
    (lambda: BettingCS(float("nan"), (0, 1)), "alpha"),
    (lambda: BettingCS(0.05, (1, 0)), "support"),
    (lambda: BettingCS(0.05, (0, float("inf"))), "support"),
    (lambda: BettingCS(0.05, 1.0), "support"),
    (lambda: BettingCS(0.05, (0, 1), trunc=1.0), "trunc"),
    (lambda: TMixtureCS(-0.1), "alpha"),
    (lambda: TMixtureCS(0.05, c=0.0), "c"),
    (lambda: Statement.band(0.0, 0.0), "delta"),
    (lambda: Statement.band(float("nan"), 0.1), "prediction"),
    (lambda: Statement.at_most(float("inf")), "bound"),
    (lambda: Statement("between", 0.0, 1.0), "kind"),
])
def test_bad_parameters_raise_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_observations_raise_never_dropped():
    cs = BettingCS(0.05, (0.0, 1.0))
    s = Statement.at_most(0.5)
    for x in ([0.1, float("nan"), 0.3], [0.1, float("inf")]):
        for call in (lambda: sequential_decision(x, s, cs),
                     lambda: sequential_decision(x, s, TMixtureCS(0.05)),
                     lambda: cs.decision_path(np.array([x]), s),
                     lambda: plan_trials(x, 0.1, cs, max_trials=100)):
            with pytest.raises(ValueError, match="x contains (NaN|inf)"):
                call()
    with pytest.raises(ValueError, match="x has values outside the support"):
        sequential_decision([0.2, 1.5], s, cs)
    with pytest.raises(ValueError, match="x is empty"):
        sequential_decision([], s, cs)
    with pytest.raises(ValueError, match="x must be 1-D"):
        sequential_decision(np.zeros((2, 3)), s, cs)
    with pytest.raises(ValueError, match="statement"):
        sequential_decision([0.2, 0.3], "theta <= 0.5", cs)
    with pytest.raises(ValueError, match="cs"):
        sequential_decision([0.2, 0.3], s, "betting")
    with pytest.raises(ValueError, match="max_trials"):
        plan_trials(np.full(20, 0.5), 0.1, cs, max_trials=10)
    with pytest.raises(ValueError, match="delta"):
        plan_trials([0.2, 0.3], -0.1, cs, max_trials=10)
    with pytest.raises(ValueError, match="x must be 1-D with at least 2"):
        plan_trials([0.2], 0.1, cs, max_trials=10)
    with pytest.raises(ValueError, match="n must be"):
        TMixtureCS(0.05).approx_half_width(0, 1.0)
