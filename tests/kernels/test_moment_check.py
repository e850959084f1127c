"""The reusable sampler-vs-exact-Haar-moments check (depthcheck.kernels.random.moments).

Positive controls: depthcheck.kernels.random.haar's samplers and an independent local Mezzadri sampler pass.
Negative controls: QR without the sign/phase fix, Haar on SO(d) checked as O(d), and Gaussian
matrices scaled to the right second moment all fail. Every rng is seeded explicitly.
"""
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import norm

from depthcheck.kernels.random.haar import (sample_orthogonal, sample_special_orthogonal, sample_unitary)
from depthcheck.kernels.random.moments import (bonferroni_threshold, check_haar_sampler, random_monomials)


def mezzadri_orthogonal(d):
    def sampler(n, rng):
        Q, R = np.linalg.qr(rng.standard_normal((n, d, d)))
        return Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    return sampler


def plain_qr_orthogonal(d):
    """The classic bug: Q of numpy's QR without the sign fix (not Haar)."""
    return lambda n, rng: np.linalg.qr(rng.standard_normal((n, d, d)))[0]


def plain_qr_unitary(d):
    return lambda n, rng: np.linalg.qr(rng.standard_normal((n, d, d))
                                       + 1j * rng.standard_normal((n, d, d)))[0]


@pytest.mark.parametrize("d", [1, 2, 4])
def test_kernels_haar_orthogonal_sampler_passes(d):
    res = check_haar_sampler(lambda n, rng: sample_orthogonal((n,), d, rng), d,
                             np.random.default_rng(101 + d), n_samples=20_000)
    assert res.passed, res.summary()
    assert res.max_abs_z <= res.threshold
    # the fixed sign-sensitive monomials are there, with their exact values
    by_key = {(m.rows, m.cols): m for m in res.monomials}
    assert by_key[((0,), (0,))].exact == 0
    assert by_key[((0, 0), (0, 0))].exact == Fraction(1, d)
    assert by_key[((0, 0, 0, 0), (0, 0, 0, 0))].exact == Fraction(3, d * (d + 2))
    assert max(m.degree for m in res.monomials) <= 8


def test_independent_mezzadri_sampler_passes_with_many_monomials():
    res = check_haar_sampler(mezzadri_orthogonal(3), 3, np.random.default_rng(7),
                             n_samples=30_000, n_monomials=80)
    assert res.passed, res.summary()
    # z-scores of a correct sampler look standard normal: a loose calibration check
    zs = np.array([m.z for m in res.monomials if m.stderr > 0])
    assert 0.3 < np.mean(zs ** 2) < 2.5


@pytest.mark.parametrize("d", [2, 3])
def test_kernels_haar_unitary_sampler_passes(d):
    res = check_haar_sampler(lambda n, rng: sample_unitary((n,), d, rng), d,
                             np.random.default_rng(202 + d), group="unitary", n_samples=20_000)
    assert res.passed, res.summary()
    assert res.n_tests == 2 * len(res.monomials)


@pytest.mark.parametrize("d", [2, 4, 6])
def test_negative_control_missing_sign_fix_is_detected(d):
    res = check_haar_sampler(plain_qr_orthogonal(d), d, np.random.default_rng(303 + d),
                             n_samples=20_000)
    assert not res.passed
    o11 = next(m for m in res.monomials if (m.rows, m.cols) == ((0,), (0,)))
    assert o11.exact == 0 and o11.mean < 0 and abs(o11.z) > res.threshold


def test_negative_control_missing_phase_fix_is_detected():
    res = check_haar_sampler(plain_qr_unitary(3), 3, np.random.default_rng(404), group="unitary",
                             n_samples=20_000)
    assert not res.passed


def test_negative_control_special_orthogonal_is_not_haar_on_orthogonal_group():
    """On SO(3), E[O_11 O_22 O_33] = E[det]/3! = 1/6, while it is 0 on O(3)."""
    res = check_haar_sampler(lambda n, rng: sample_special_orthogonal((n,), 3, rng), 3,
                             np.random.default_rng(505), n_samples=20_000)
    assert not res.passed
    diag = next(m for m in res.monomials if (m.rows, m.cols) == ((0, 1, 2), (0, 1, 2)))
    assert diag.mean == pytest.approx(1 / 6, abs=5 * diag.stderr)


def test_negative_control_gaussian_with_haar_second_moments_is_detected():
    """Entries N(0, 1/d) match E[O_ij^2] = 1/d but not the fourth moments (3/d^2 vs 3/(d(d+2)))."""
    d = 3
    res = check_haar_sampler(lambda n, rng: rng.standard_normal((n, d, d)) / np.sqrt(d), d,
                             np.random.default_rng(606), n_samples=20_000)
    assert not res.passed


def test_user_supplied_monomials_and_chunking_give_identical_estimates():
    mons = [((0, 0), (0, 0)), ((0, 0, 1, 1), (0, 1, 0, 1)), ((1,), (2,))]
    sampler = lambda n, rng: sample_orthogonal((n,), 3, rng)  # noqa: E731
    a = check_haar_sampler(sampler, 3, np.random.default_rng(9), n_samples=5000, monomials=mons,
                           chunk_size=5000)
    b = check_haar_sampler(sampler, 3, np.random.default_rng(9), n_samples=5000, monomials=mons,
                           chunk_size=777)
    assert [m.exact for m in a.monomials] == [Fraction(1, 3), Fraction(-1, 30), 0]
    # chunking changes only the order of the draws' arithmetic, not the draws
    np.testing.assert_allclose([m.mean for m in a.monomials], [m.mean for m in b.monomials],
                               rtol=1e-12, atol=1e-15)


def test_bonferroni_threshold():
    assert bonferroni_threshold(5.0, 1) == pytest.approx(5.0, rel=1e-12)
    t = bonferroni_threshold(5.0, 40)
    assert t > 5.0
    assert 40 * 2 * norm.sf(t) == pytest.approx(2 * norm.sf(5.0), rel=1e-9)


def test_random_monomials_are_distinct_and_within_degree():
    mons = random_monomials(4, np.random.default_rng(1), n_monomials=50, max_degree=6)
    keys = {tuple(sorted(zip(r, c))) for r, c in mons}
    assert len(keys) == len(mons)
    assert all(1 <= len(r) == len(c) <= 6 for r, c in mons)
    assert all(0 <= x < 4 for r, c in mons for x in r + c)
    umons = random_monomials(2, np.random.default_rng(1), n_monomials=20, max_degree=6,
                             group="unitary")
    assert all(len(i) + len(i2) <= 6 for i, _, i2, _ in umons)


def test_bad_input_raises():
    rng = np.random.default_rng(0)
    good = lambda n, r: sample_orthogonal((n,), 3, r)  # noqa: E731
    with pytest.raises(ValueError, match="group"):
        check_haar_sampler(good, 3, rng, group="symplectic")
    with pytest.raises(ValueError, match="rng"):
        check_haar_sampler(good, 3, 0)
    with pytest.raises(ValueError, match="shape"):
        check_haar_sampler(lambda n, r: sample_orthogonal((n,), 4, r), 3, rng, n_samples=100)
    with pytest.raises(ValueError, match="sampler"):
        check_haar_sampler(lambda n, r: np.full((n, 3, 3), np.nan), 3, rng, n_samples=100)
    with pytest.raises(ValueError, match="sampler"):
        check_haar_sampler("not callable", 3, rng)
    with pytest.raises(ValueError, match="monomials"):
        check_haar_sampler(good, 3, rng, monomials=[((0, 3), (0, 0))], n_samples=100)
    with pytest.raises(ValueError, match="z"):
        check_haar_sampler(good, 3, rng, z=-1.0, n_samples=100)
