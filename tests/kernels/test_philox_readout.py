"""The fused kernels' readout convention (depthcheck.kernels.random.philox.readout_philox)."""
import numpy as np
import pytest

from depthcheck.kernels.random.haar import _sign_fixed_qr
from depthcheck.kernels.random.philox import READOUT_STREAM, normal_stream, readout_philox


def test_readout_is_the_sign_fixed_qr_of_its_stream():
    key = (12345, 678)
    W = readout_philox(key, 3, 4, 7, method="box_muller")
    for b in range(3):
        Z = normal_stream(key, 0, b, READOUT_STREAM, 28, "box_muller").reshape(7, 4)
        Q, R = np.linalg.qr(Z)
        Q = Q * np.sign(np.diag(R))
        np.testing.assert_allclose(W[b], Q.T, atol=1e-13)
        np.testing.assert_allclose(W[b] @ W[b].T, np.eye(4), atol=1e-13)
    assert not np.allclose(W[0], W[1])


def test_readout_moments_match_the_stiefel_law():
    # first column of a uniform frame in R^d: E W_11^2 = 1/d, E W_11^4 = 3/(d(d+2))
    d, B = 5, 4000
    W = readout_philox((9, 10), B, 2, d)
    x2 = W[:, 0, 0] ** 2
    for value, exact in ((x2, 1 / d), (x2 ** 2, 3 / (d * (d + 2)))):
        z = (value.mean() - exact) / (value.std(ddof=1) / np.sqrt(B))
        assert abs(z) < 5, (value.mean(), exact, z)
    # E W_11 W_21 = 0 (orthogonal rows, not merely unit ones)
    c = W[:, 0, 0] * W[:, 1, 0]
    assert abs(c.mean() / (c.std(ddof=1) / np.sqrt(B))) < 5


def test_readout_rejects_n_out_above_d():
    with pytest.raises(ValueError, match="n_out"):
        readout_philox((1, 2), 1, 6, 5)


@pytest.mark.parametrize("B,n_out,d", [(3, 10, 1024), (4, 10, 200), (2, 64, 64), (2, 100, 256)])
def test_readout_blas_threads(B, n_out, d):
    """The gradient kernels' host set-up (numba.fused_grad.grad_setup) computes the readout with
    one BLAS thread (a threaded call leaves OpenBLAS's workers spinning, taking a core from the
    kernel that follows); the readout must be the same bits as with the default threads, which
    the tests' oracles use."""
    from depthcheck.kernels.backends.numba.blas import blas_single_thread
    from depthcheck.kernels.backends.numba.fused_grad import grad_setup
    from depthcheck.kernels.chain.spec import ChainSpec
    key = (77, 88)
    W = readout_philox(key, B, n_out, d)
    with blas_single_thread():
        np.testing.assert_array_equal(readout_philox(key, B, n_out, d), W)
    X = np.random.default_rng(0).standard_normal((d, 3))
    spec = ChainSpec.from_arguments(X, 2, trials=B, rng=np.random.default_rng(1), n_out=n_out,
                                    gradients=True)
    Wout = grad_setup(spec, key, "ziggurat", np.arange(3) % n_out, None, [1, 2])[3]
    np.testing.assert_array_equal(Wout, W)
