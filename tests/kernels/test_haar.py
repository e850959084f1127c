"""Haar samplers against exact moments (5-sigma tolerances from the estimator's standard error).

Exact moments (Haar O(d), e.g. Collins & Sniady 2006; a column is uniform on S^{d-1} so
E[O11^{2k}] = (2k-1)!!/(d(d+2)...(d+2k-2))):
    E[O11] = 0, E[O11^2] = 1/d, E[O11^4] = 3/(d(d+2)), E[O11^8] = 105/(d(d+2)(d+4)(d+6)),
    E[O11^2 O22^2] = (d+1)/(d(d-1)(d+2)), E[O11 O12 O21 O22] = -1/(d(d-1)(d+2)), E[O11 O22] = 0.
SO(d): det = 1 and E[prod_i O_ii] = 1/d! (all d! signed terms of E[det] = 1 are equal).
U(d): |U11|^2 ~ Beta(1, d-1): E|U11|^{2k} = k!(d-1)!/(d+k-1)!; E[U11] = E[U11^2] = 0.
"""
from math import factorial

import numpy as np
import pytest
from scipy import stats

from depthcheck.kernels.random.haar import (apply_haar, apply_householder_haar, haar_householder_vectors, sample_orthogonal, sample_special_orthogonal, sample_stiefel, sample_unitary)

Z_MAX = 5.0          # 5 sigma
P_MIN = 5.7e-7       # two-sided p-value of 5 sigma
N_MC = 20_000


def _z(x, mean, var=None):
    """z-score of the sample mean of x against ``mean``; exact ``var`` if known, else empirical."""
    x = np.asarray(x, dtype=np.float64)
    if var is None:
        var = x.var(ddof=1)
    if var <= 1e-24:                       # degenerate statistic (d = 1): must match exactly
        return 0.0 if abs(x.mean() - mean) < 1e-12 else np.inf
    return (x.mean() - mean) / np.sqrt(var / x.size)


def orthogonal_moment_z(O, special=False):
    """z-scores of the exact Haar moments for a stack O (N, d, d) claimed Haar on O(d) / SO(d)."""
    d = O.shape[-1]
    o11 = O[:, 0, 0]
    m4 = 3 / (d * (d + 2))
    z = {
        "E[O11]=0": _z(o11, 0.0, 1 / d),
        "E[O11^2]=1/d": _z(o11**2, 1 / d, m4 - 1 / d**2),
        "E[O11^4]": _z(o11**4, m4, 105 / (d * (d + 2) * (d + 4) * (d + 6)) - m4**2),
    }
    if d >= 2:
        o12, o21, o22 = O[:, 0, 1], O[:, 1, 0], O[:, 1, 1]
        m22 = (d + 1) / (d * (d - 1) * (d + 2))
        z["E[O11^2 O22^2]"] = _z(o11**2 * o22**2, m22)
        z["E[O11 O12 O21 O22]"] = _z(o11 * o12 * o21 * o22, -1 / (d * (d - 1) * (d + 2)))
        if not special or d >= 3:     # on SO(2), O11 O22 = cos^2
            z["E[O11 O22]=0"] = _z(o11 * o22, 0.0, m22)
    if special:
        z["E[prod O_ii]=1/d!"] = _z(np.prod(np.diagonal(O, axis1=-2, axis2=-1), axis=-1),
                                    1 / factorial(d))
    return z


def rejected(zs):
    return {k: round(float(v), 1) for k, v in zs.items() if not abs(v) < Z_MAX}


def det_sign_pvalue(O):
    neg = int(np.sum(np.linalg.det(O) < 0))
    return stats.binomtest(neg, O.shape[0], 0.5).pvalue


def plain_qr(Z):
    """The classic mistake: Q of numpy's QR without the sign fix."""
    return np.linalg.qr(Z)[0]


def householder_vectors_of(Z):
    """Householder QR by hand (LAPACK sign convention): the packed vectors x_k of Z (d, d)."""
    A = np.array(Z, dtype=np.float64)
    d = A.shape[0]
    X = np.zeros((d, d))
    for k in range(d):
        x = A[k:, k].copy()
        X[k:, k] = x
        if k < d - 1:
            v = x.copy()
            v[0] += (1.0 if x[0] >= 0 else -1.0) * np.linalg.norm(x)
            A[k:, :] -= 2.0 * np.outer(v, v @ A[k:, :]) / (v @ v)
    return X


def _orth_err(Q):
    eye = np.eye(Q.shape[-1])
    return np.max(np.abs(np.swapaxes(Q, -1, -2).conj() @ Q - eye))


# ---------------------------------------------------------------- O(d)

@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_orthogonal_exact_moments(d):
    O = sample_orthogonal(N_MC, d, np.random.default_rng(100 + d))
    assert rejected(orthogonal_moment_z(O)) == {}
    assert det_sign_pvalue(O) > P_MIN


@pytest.mark.parametrize("d", [2, 3, 6])
def test_moment_check_rejects_qr_without_sign_fix(d):
    rng = np.random.default_rng(200 + d)
    Q = plain_qr(rng.standard_normal((N_MC, d, d)))
    assert _orth_err(Q) < 1e-12                     # a perfectly orthogonal, non-Haar sampler
    bad = rejected(orthogonal_moment_z(Q))
    assert "E[O11]=0" in bad, bad                    # LAPACK gives Q11 = -|Z11|/|Z[:,1]| <= 0
    assert det_sign_pvalue(Q) < P_MIN                # det = (-1)^(d-1) always


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), 4])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthogonal_shapes_dtypes_orthogonality(shape, dtype, tol):
    O = sample_orthogonal(shape, 5, np.random.default_rng(1), dtype=dtype)
    full = (shape,) if isinstance(shape, int) else shape
    assert O.shape == full + (5, 5) and O.dtype == dtype
    assert _orth_err(O.astype(np.float64)) < tol


def test_reproducible_and_independent_across_batch():
    a = sample_orthogonal((2, 3), 4, np.random.default_rng(5))
    b = sample_orthogonal((2, 3), 4, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    flat = a.reshape(6, 16)
    assert np.min(np.abs(flat[:, None] - flat[None]).sum(-1) + np.eye(6)) > 1e-3


# ---------------------------------------------------------------- SO(d)

@pytest.mark.parametrize("d", [2, 3, 4])
def test_special_orthogonal_moments_and_det(d):
    S = sample_special_orthogonal(N_MC, d, np.random.default_rng(300 + d))
    np.testing.assert_allclose(np.linalg.det(S), 1.0, atol=1e-12)
    assert rejected(orthogonal_moment_z(S, special=True)) == {}


def test_special_statistic_rejects_plain_orthogonal():
    O = sample_orthogonal(N_MC, 3, np.random.default_rng(9))
    assert "E[prod O_ii]=1/d!" in rejected(orthogonal_moment_z(O, special=True))


def test_special_orthogonal_d1_and_dtype():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sample_special_orthogonal((4,), 1, rng), np.ones((4, 1, 1)))
    S = sample_special_orthogonal((2, 3), 4, rng, dtype=np.float32)
    assert S.dtype == np.float32 and S.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(np.linalg.det(S.astype(np.float64)), 1.0, atol=1e-5)


# ---------------------------------------------------------------- U(d)

def unitary_moment_z(U):
    d = U.shape[-1]
    u = U[:, 0, 0]
    a2 = np.abs(u) ** 2
    m2, m4 = 1 / d, 2 / (d * (d + 1))
    m8 = 24 / (d * (d + 1) * (d + 2) * (d + 3))
    return {
        "Re E[U11]=0": _z(u.real, 0.0, 1 / (2 * d)),
        "Im E[U11]=0": _z(u.imag, 0.0, 1 / (2 * d)),
        "E[U11^2]=0 (re)": _z((u**2).real, 0.0),
        "E[U11^2]=0 (im)": _z((u**2).imag, 0.0),
        "E|U11|^2": _z(a2, m2, m4 - m2**2),
        "E|U11|^4": _z(a2**2, m4, m8 - m4**2),
    }


@pytest.mark.parametrize("d", [1, 2, 4])
def test_unitary_exact_moments(d):
    U = sample_unitary(N_MC, d, np.random.default_rng(400 + d))
    assert U.dtype == np.complex128 and _orth_err(U) < 1e-12
    assert rejected(unitary_moment_z(U)) == {}


def test_unitary_check_rejects_plain_complex_qr():
    rng = np.random.default_rng(11)
    Z = rng.standard_normal((N_MC, 3, 3)) + 1j * rng.standard_normal((N_MC, 3, 3))
    assert "Re E[U11]=0" in rejected(unitary_moment_z(plain_qr(Z)))


def test_unitary_complex64_and_shapes():
    U = sample_unitary((2, 3), 4, np.random.default_rng(0), dtype=np.complex64)
    assert U.dtype == np.complex64 and U.shape == (2, 3, 4, 4)
    assert _orth_err(U.astype(np.complex128)) < 1e-5


# ---------------------------------------------------------------- Stiefel

def stiefel_moment_z(V):
    d = V.shape[-2]
    v = V[:, 0, 0]
    m4 = 3 / (d * (d + 2))
    z = {"E[V11]=0": _z(v, 0.0, 1 / d),
         "E[V11^2]=1/d": _z(v**2, 1 / d, m4 - 1 / d**2),
         "E[V11^4]": _z(v**4, m4, 105 / (d * (d + 2) * (d + 4) * (d + 6)) - m4**2)}
    if V.shape[-1] >= 2:                 # the second column is uniform too
        z["E[V12]=0"] = _z(V[:, 0, 1], 0.0, 1 / d)
    return z


@pytest.mark.parametrize("d,k", [(1, 1), (5, 1), (5, 2), (4, 4)])
def test_stiefel_orthonormal_and_moments(d, k):
    V = sample_stiefel(N_MC, d, k, np.random.default_rng(500 + 10 * d + k))
    assert V.shape == (N_MC, d, k) and _orth_err(V) < 1e-12
    assert rejected(stiefel_moment_z(V)) == {}


def test_stiefel_check_rejects_plain_thin_qr():
    Z = np.random.default_rng(12).standard_normal((N_MC, 5, 2))
    assert "E[V11]=0" in rejected(stiefel_moment_z(plain_qr(Z)))


def test_stiefel_k_greater_than_d_raises():
    with pytest.raises(ValueError, match="k"):
        sample_stiefel((), 3, 4, np.random.default_rng(0))


# ---------------------------------------------------------------- apply_haar (Stewart)

@pytest.mark.parametrize("d", [1, 2, 5, 9])
def test_householder_product_equals_sign_fixed_qr_of_same_gaussian(d):
    # Exact (not just in law): the vectors of Z's Householder QR rebuild Mezzadri's Q of Z.
    rng = np.random.default_rng(600 + d)
    Z = rng.standard_normal((3, d, d))
    X = np.stack([householder_vectors_of(z) for z in Z])
    Q, R = np.linalg.qr(Z)
    Qfix = Q * np.where(np.diagonal(R, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[:, None, :]
    np.testing.assert_allclose(apply_householder_haar(X, np.eye(d)), Qfix, atol=1e-12)
    H = rng.standard_normal((d, 4))
    np.testing.assert_allclose(apply_householder_haar(X, H), Qfix @ H, atol=1e-11)


@pytest.mark.parametrize("d", [1, 3, 6])
def test_apply_haar_to_identity_has_haar_moments(d):
    W = apply_haar(np.broadcast_to(np.eye(d), (N_MC, d, d)), np.random.default_rng(700 + d))
    assert _orth_err(W) < 1e-12
    assert rejected(orthogonal_moment_z(W)) == {}
    assert det_sign_pvalue(W) > P_MIN


def test_apply_haar_two_sample_ks_against_qr_sampler():
    rng = np.random.default_rng(8)
    H = rng.standard_normal((5, 3))
    a = apply_haar(np.broadcast_to(H, (N_MC, 5, 3)), rng)
    b = sample_orthogonal(N_MC, 5, rng) @ H
    for i, j in [(0, 0), (4, 2)]:
        assert stats.ks_2samp(a[:, i, j], b[:, i, j]).pvalue > P_MIN
    # power: the same KS test tells the unfixed QR apart
    c = plain_qr(rng.standard_normal((N_MC, 5, 5))) @ H
    assert stats.ks_2samp(a[:, 0, 0], c[:, 0, 0]).pvalue < P_MIN


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_apply_haar_shapes_and_preserves_gram(batch):
    rng = np.random.default_rng(13)
    H = rng.standard_normal(batch + (6, 4))
    Y = apply_haar(H, rng)
    assert Y.shape == H.shape and Y.dtype == np.float64
    G, GY = np.swapaxes(H, -1, -2) @ H, np.swapaxes(Y, -1, -2) @ Y
    np.testing.assert_allclose(GY, G, atol=1e-12 * np.abs(G).max())
    if batch:
        flat = Y.reshape(-1, 24)
        assert not np.allclose(flat[0], flat[1])       # a fresh W per batch element


def test_apply_haar_float32_and_int_input():
    rng = np.random.default_rng(14)
    Y = apply_haar(np.eye(4, dtype=np.float32), rng)
    assert Y.dtype == np.float32 and _orth_err(Y.astype(np.float64)) < 1e-5
    assert apply_haar(np.eye(3, dtype=int), rng).dtype == np.float64


def test_householder_vectors_layout():
    X = haar_householder_vectors((2,), 4, np.random.default_rng(0))
    assert X.shape == (2, 4, 4)
    rows, cols = np.tril_indices(4)
    assert np.all(np.triu(X, 1) == 0) and np.all(X[:, rows, cols] != 0)


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("bad", [None, 0, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    for call in (lambda: sample_orthogonal((), 3, bad), lambda: sample_unitary((), 3, bad),
                 lambda: sample_special_orthogonal((), 3, bad),
                 lambda: sample_stiefel((), 3, 2, bad), lambda: apply_haar(np.eye(3), bad),
                 lambda: haar_householder_vectors((), 3, bad)):
        with pytest.raises(ValueError, match="rng"):
            call()


def test_bad_arguments_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="d"):
        sample_orthogonal((), 0, rng)
    with pytest.raises(ValueError, match="d"):
        sample_orthogonal((), 2.5, rng)
    with pytest.raises(ValueError, match="shape"):
        sample_orthogonal((-1,), 3, rng)
    with pytest.raises(ValueError, match="shape"):
        sample_orthogonal([2], 3, rng)
    with pytest.raises(ValueError, match="dtype"):
        sample_orthogonal((), 3, rng, dtype=np.complex128)
    with pytest.raises(ValueError, match="dtype"):
        sample_unitary((), 3, rng, dtype=np.float64)
    with pytest.raises(ValueError, match="H"):
        apply_haar(np.array([[1.0, np.nan]]), rng)
    with pytest.raises(ValueError, match="H"):
        apply_haar(np.ones(3), rng)
    with pytest.raises(ValueError, match="H"):
        apply_householder_haar(np.ones((3, 3)), np.ones((4, 2)))
