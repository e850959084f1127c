"""Tests of depthcheck.validation.claims.stats: interval coverage by simulation, exact cases, decisions."""
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import lfilter
from scipy.stats import binom

from depthcheck.validation.claims import stats as S
from depthcheck.validation.claims.claim import Verdict

REPS = 2000
LEVEL = 0.95


def _assert_coverage(hits, level=LEVEL):
    """Empirical coverage within 5 binomial standard errors of the nominal level."""
    n = len(hits)
    cov = float(np.mean(hits))
    tol = 5 * math.sqrt(level * (1 - level) / n)
    assert abs(cov - level) < tol, f"coverage {cov:.4f} vs nominal {level} (tol {tol:.4f})"


def test_error_rate_policy():
    assert S.ALPHA == pytest.approx(1e-5)
    # a FAIL needs the CI on the wrong side: P <= alpha/2 per statement; Bonferroni over the budget
    assert S.CLAIM_BUDGET * S.ALPHA / 2 < S.SUITE_FALSE_FAIL


def test_t_quantile_table_values():
    # standard table values of Student t
    assert S.t_quantile(0.05, 4) == pytest.approx(2.7764, abs=1e-4)
    assert S.t_quantile(0.01, 10) == pytest.approx(3.1693, abs=1e-4)
    assert S.t_quantile(0.05, math.inf) == pytest.approx(1.95996, abs=1e-5)


def test_mean_ci_hand_case():
    e = S.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], alpha=0.05)
    # mean 3, s = sqrt(2.5), se = s / sqrt(5) = sqrt(0.5), t_{.975,4} = 2.7764
    h = 2.7764451 * math.sqrt(0.5)
    assert e.estimate == 3.0 and e.n == 5 and e.df == 4
    assert e.ci == pytest.approx((3 - h, 3 + h), rel=1e-7)


def test_mean_ci_coverage():
    rng = np.random.default_rng(11)
    X = rng.normal(1.5, 2.0, size=(REPS, 10))
    hits = [S.mean_ci(x, 0.05).ci[0] <= 1.5 <= S.mean_ci(x, 0.05).ci[1] for x in X]
    _assert_coverage(hits)


def test_slope_ci_coverage_with_correlated_noise():
    # per-trial random-walk noise along x: pooled OLS intervals would be far too narrow
    rng = np.random.default_rng(12)
    x = np.arange(20.0)
    hits = []
    for _ in range(REPS):
        Y = 0.3 - 0.7 * x + np.cumsum(rng.normal(size=(8, 20)), axis=1)
        lo, hi = S.slope_ci(x, Y, 0.05).slope.ci
        hits.append(lo <= -0.7 <= hi)
    _assert_coverage(hits)


def test_slope_ci_exact_lines_and_curve_fit():
    x = np.array([0.0, 1.0, 3.0, 7.0])
    Y = np.stack([2.0 + 0.5 * x, -1.0 + 0.5 * x, 4.0 + 0.5 * x])
    f = S.slope_ci(x, Y)
    assert f.slope.estimate == pytest.approx(0.5)
    assert f.slope.ci == pytest.approx((0.5, 0.5))
    assert f.intercept.estimate == pytest.approx(5.0 / 3)
    assert f.curve_slope == pytest.approx(0.5) and f.curve_intercept == pytest.approx(5.0 / 3)
    np.testing.assert_allclose(f.per_trial_slopes, 0.5)


def test_slope_ci_bad_input():
    with pytest.raises(ValueError, match="Y"):
        S.slope_ci(np.arange(3.0), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="constant"):
        S.slope_ci(np.ones(3), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        S.slope_ci(np.arange(3.0), np.array([[0, 1, np.nan], [0, 1, 2]]))


@pytest.mark.parametrize("method", ["fieller", "delta"])
def test_ratio_ci_coverage(method):
    rng = np.random.default_rng(13)
    cov = np.array([[1.0, 0.6], [0.6, 1.0]])
    true = 2.0 / 4.0
    Z = rng.multivariate_normal([2.0, 4.0], cov, size=(REPS, 40))
    hits = []
    for z in Z:
        lo, hi = S.ratio_ci(z[:, 0], z[:, 1], 0.05, method=method).ci
        hits.append(lo <= true <= hi)
    _assert_coverage(hits)


def test_ratio_ci_unbounded_when_denominator_unresolved():
    rng = np.random.default_rng(14)
    num = rng.normal(1.0, 1.0, size=10)
    den = rng.normal(0.0, 1.0, size=10) + 0.05
    e = S.ratio_ci(num, den, 0.05)
    assert e.ci == (-math.inf, math.inf)


def test_batch_means_coverage_ar1():
    # AR(1) with phi = 0.5 and unit innovations: stationary mean 0, autocorrelation time 3
    rng = np.random.default_rng(15)
    reps, T = 1000, 2000
    e = rng.normal(size=(reps, T + 100))
    x = lfilter([1.0], [1.0, -0.5], e, axis=1)[:, 100:]
    hits = []
    for s in x:
        lo, hi = S.batch_means_ci(s, n_batches=20, alpha=0.05).ci
        hits.append(lo <= 0.0 <= hi)
    _assert_coverage(hits)
    # several independent chains pool their batch means
    assert S.batch_means_ci(x[:3], n_batches=10, alpha=0.05).n == 30


def test_proportion_ci_exact_and_conservative():
    # k = 0: upper limit solves (1 - p)^n = alpha / 2
    e = S.proportion_ci(0, 10, 0.05)
    assert e.ci[0] == 0.0 and e.ci[1] == pytest.approx(1 - 0.025 ** 0.1)
    # k = n: lower limit solves p^n = alpha / 2
    assert S.proportion_ci(10, 10, 0.05).ci[0] == pytest.approx(0.025 ** 0.1)
    # Clopper-Pearson never under-covers: exact coverage over all k
    for n in (5, 20, 60):
        ks = np.arange(n + 1)
        cis = [S.proportion_ci(int(k), n, 0.05).ci for k in ks]
        for p in (0.03, 0.2, 0.5, 0.77):
            covered = np.array([lo <= p <= hi for lo, hi in cis])
            assert binom.pmf(ks, n, p)[covered].sum() >= 0.95 - 1e-12
    with pytest.raises(ValueError, match="k"):
        S.proportion_ci(11, 10)


def test_two_sample_ks():
    rng = np.random.default_rng(16)
    same = S.two_sample_ks(rng.normal(size=500), rng.normal(size=500))
    diff = S.two_sample_ks(rng.normal(size=500), rng.normal(0.5, 1.0, size=500))
    assert same.pvalue > 1e-3
    assert diff.pvalue < 1e-6 and diff.statistic > same.statistic


# ------------------------------------------------------------------------------- decisions

@pytest.mark.parametrize("ci,expected", [
    ((0.1, 0.2), "PASS"), ((-1.0, 1.0), "PASS"), ((0.5, 2.0), "INCONCLUSIVE"),
    ((-2.0, -1.5), "FAIL"), ((1.01, 3.0), "FAIL"), ((-3.0, 3.0), "INCONCLUSIVE")])
def test_decide_within(ci, expected):
    assert S.decide_within(ci, -1.0, 1.0) == expected


@pytest.mark.parametrize("ci,upper,lower", [
    ((0.0, 0.5), "PASS", "FAIL"), ((0.5, 1.5), "INCONCLUSIVE", "INCONCLUSIVE"),
    ((1.5, 2.0), "FAIL", "PASS"), ((0.2, 1.0), "PASS", "INCONCLUSIVE")])
def test_decide_one_sided(ci, upper, lower):
    assert S.decide_upper(ci, 1.0) == upper
    assert S.decide_lower(ci, 1.0) == lower


@given(st.floats(-10, 10), st.floats(0, 5), st.floats(-10, 10), st.floats(0, 5))
def test_decisions_consistent(c, w, b, bw):
    ci, lo, hi = (c - w, c + w), b - bw, b + bw
    d = S.decide_within(ci, lo, hi)
    # the equivalence decision is the conjunction of the two one-sided ones
    both = {S.decide_lower(ci, lo), S.decide_upper(ci, hi)}
    assert d == ("PASS" if both == {"PASS"} else "FAIL" if "FAIL" in both else "INCONCLUSIVE")
    # mirror symmetry
    assert S.decide_upper(ci, b) == S.decide_lower((-ci[1], -ci[0]), -b)
    # shrinking the interval never turns a decided verdict into another decided one
    if d != "INCONCLUSIVE":
        assert S.decide_within((c - w / 2, c + w / 2), lo, hi) == d


def test_judge_helpers_build_verdicts():
    v = S.judge_within(0.0, (-0.1, 0.1), -1, 1, alpha=0.01)
    assert isinstance(v, Verdict) and v.verdict == "PASS" and v.prediction == 0.0
    assert v.alpha == 0.01 and v.extra["band"] == [-1, 1] and "inside" in v.detail
    e = S.mean_ci([3.0, 3.1, 2.9, 3.05], alpha=0.05)
    v = S.judge_upper(e, None, 1.0, alpha=0.05)
    assert v.verdict == "FAIL" and v.prediction == 1.0 and v.statistic == e.estimate
    assert S.judge_lower(e, None, 1.0).verdict == "PASS"
    v = S.judge_all_hold([0.5, 0.0, -1e-13], tol=1e-12)
    assert v.verdict == "PASS" and v.statistic == -1e-13 and v.extra["cases"] == 3
    assert S.judge_all_hold([0.5, -1e-3]).verdict == "FAIL"
    with pytest.raises(ValueError, match="ci"):
        S.judge_upper(1.0, None, 2.0)


def test_verdict_validation():
    with pytest.raises(ValueError, match="verdict"):
        Verdict("OK", 0.0, (0, 1), None, 0.05)
    with pytest.raises(ValueError, match="NaN"):
        Verdict("PASS", float("nan"), (0, 1), None, 0.05)
    with pytest.raises(ValueError, match="ordered"):
        Verdict("PASS", 0.0, (1, 0), None, 0.05)
    with pytest.raises(ValueError, match="JSON"):
        Verdict("PASS", 0.0, (0, 1), None, 0.05, extra={"x": object()})
    v = Verdict("PASS", np.float32(1), (np.float64(0), 2), np.int64(1), 0.05,
                extra={"a": np.arange(2)})
    assert v.ci == (0.0, 2.0) and v.prediction == 1.0 and v.extra == {"a": [0, 1]}


def test_combine_decisions_and_budget_count():
    assert S.combine_decisions(["PASS", "PASS"]) == "PASS"
    assert S.combine_decisions(["PASS", "INCONCLUSIVE"]) == "INCONCLUSIVE"
    assert S.combine_decisions(["INCONCLUSIVE", "FAIL", "PASS"]) == "FAIL"
    with pytest.raises(ValueError, match="decision"):
        S.combine_decisions(["PASS", "OK"])
    recs = [{"control": False, "verdict": "PASS", "extra": {"statements": 3}},
            {"control": True, "verdict": "FAIL", "extra": {"statements": 3}},
            {"control": False, "verdict": "FAIL", "extra": {}},
            {"control": False, "verdict": "ERROR", "extra": {}}]
    assert S.statements_judged(recs) == 4


# ----------------------------------------------------------------------------------- Family

def test_family_combines_k_statements_at_alpha_over_k():
    fam = S.Family(alpha=0.01, k=3)
    assert fam.level == pytest.approx(0.01 / 3)
    fam.add_upper("u", 0.5, (0.4, 0.6), 1.0)           # PASS, margin 0.4
    fam.add_within("w", 1.0, (0.95, 1.05), 0.9, 1.1)   # PASS, margin 0.05
    fam.add_lower("l", 0.3, (0.2, 0.4), 0.0)           # PASS, margin 0.2
    v = fam.verdict(fam.summary("three"))
    assert v.verdict == "PASS" and v.statistic == 1.0 and v.ci == (0.95, 1.05)
    assert v.prediction == pytest.approx(1.0) and v.alpha == 0.01
    assert v.extra["statements"] == 1 and v.extra["comparisons"] == 3
    assert v.extra["decisive"] == "w" and [p["name"] for p in v.extra["parts"]] == ["u", "w", "l"]
    assert "3 comparisons at level α/3 each: 3 PASS, 0 INCONCLUSIVE, 0 FAIL" in v.detail
    # tiebreak "order": among equal decisions the first added is decisive
    assert fam.decisive("order")["name"] == "u"


def test_family_most_severe_part_decides():
    fam = S.Family(0.01, 3)
    fam.add_within("inc", 1.0, (0.8, 1.2), 0.9, 1.1)
    fam.add_upper("fail_far", 3.0, (2.9, 3.1), 1.0)
    fam.add_upper("fail_near", 1.2, (1.1, 1.3), 1.0)
    v = fam.verdict("d", prediction=7.0, extra={"note": 1})
    assert v.verdict == "FAIL" and v.extra["decisive"] == "fail_far"  # the most violated FAIL
    assert v.prediction == 7.0 and v.extra["note"] == 1


def test_family_refuses_a_wrong_number_of_parts_and_reserved_keys():
    fam = S.Family(0.01, 2)
    fam.add("a", "PASS", 1.0, (1.0, 1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="k=2 comparisons received 1"):
        fam.verdict("x")
    fam.add("b", "PASS", 1.0, (1.0, 1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="one too many"):
        fam.add("c", "PASS", 1.0, (1.0, 1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="reserved"):
        fam.verdict("x", extra={"parts": []})
    with pytest.raises(ValueError, match="decision"):
        S.Family(0.01, 1).add("a", "MAYBE", 1.0, (1.0, 1.0), 0.0, 1.0)


def test_family_extra_is_strict_json_and_trimmed():
    fam = S.Family(0.01, 20)
    for i in range(20):
        fam.add_lower(f"p{i}", 1.0, (-math.inf if i == 3 else 0.5, math.inf), 0.0)
    v = fam.verdict("many")
    assert v.verdict == "INCONCLUSIVE" and v.extra["decisive"] == "p3"
    shown = v.extra["parts"]
    assert len(shown) == 9 and shown[0]["name"] == "p3" and shown[0]["ci"] == ["-inf", "inf"]
    json.dumps(v.extra, allow_nan=False)
