"""The fused forward kernel's tracked isometry gap (``depthcheck.kernels.backends.numba.fused``:
log det carried by row-norm ratios for square row-scaled Haar chains) against the Cholesky of
every layer's Gram (``track_gap=False``) and against the definition
(``depthcheck.theory.isometry.isometry_gap``) on the layers recomputed from the same Philox
weights."""
import numpy as np
import pytest

from depthcheck.kernels.backends.numba import fused as nc
from depthcheck.kernels.chain.codes import record_flags
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.random.haar import apply_householder_haar
from depthcheck.theory.isometry import isometry_gap


def _spec(X, L, B, **kw):
    return ChainSpec.from_arguments(X, L, trials=B, rng=np.random.default_rng(0), **kw)


def _run(spec, X, rec, every=1, track=True, key=(7, 9)):
    return nc.run_fused(spec, X, key, rec, every, 0.5, 1, "ziggurat", block=8, track_gap=track)


CASES = [dict(), dict(norm="bn_nomean", order="act_norm", gain_exponent=0.3),
         dict(norm="rownorm", gains=np.linspace(0.5, 2.0, 70))]


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("rec,every", [(("isometry_gap",), 1),
                                       (("isometry_gap", "row_norm_cv"), 3)])
def test_tracked_gap_equals_cholesky_gap(kw, rec, every):
    d, L, B = 12, 70, 3
    rng = np.random.default_rng(1)
    X = np.eye(d) + 0.3 * rng.standard_normal((d, d))
    spec = _spec(X, L, B, **kw)
    assert nc.tracked_gap_eligible(spec, record_flags(spec.norm, rec))
    a = _run(spec, X, rec, every)
    b = _run(spec, X, rec, every, track=False)
    for k in rec:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-10, atol=1e-13, err_msg=k)
    # the tracked path ran: rounding differs from the Cholesky somewhere past layer 0
    assert not np.array_equal(a["isometry_gap"][:, 1:], b["isometry_gap"][:, 1:])


@pytest.mark.parametrize("d", [72, 128, 264])
def test_wide_tracked_chains_equal_the_blas_chain(d):
    """Both ways of ``wy.pair_apply_wins`` (d = 72: the register-tiled pairs; d = 128: the
    BLAS compact WY; d = 264: pairs with eight-lane tiles, else WY) the tracked chain equals
    the untracked one (compact WY and a Cholesky at every layer) to rounding."""
    from depthcheck.kernels.backends.numba.simd import HAS_FMA
    from depthcheck.kernels.backends.numba.wy import PAIR_APPLY_MAX_D, pair_apply_wins
    assert pair_apply_wins(72) == HAS_FMA and not pair_apply_wins(128)
    assert pair_apply_wins(PAIR_APPLY_MAX_D) == HAS_FMA
    assert not pair_apply_wins(PAIR_APPLY_MAX_D + 1)
    L, B = 8, 2
    X = np.eye(d) + 0.05 * np.random.default_rng(d).standard_normal((d, d))
    spec = _spec(X, L, B)
    a = _run(spec, X, ("isometry_gap", "row_norm_cv"))
    b = _run(spec, X, ("isometry_gap", "row_norm_cv"), track=False)
    for k in ("isometry_gap", "row_norm_cv"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-13, err_msg=k)


def test_tracked_gap_matches_definition_on_recomputed_layers():
    d, L, B, key = 10, 40, 2, (3, 4)
    X = np.eye(d) + 0.2 * np.random.default_rng(2).standard_normal((d, d))
    spec = _spec(X, L, B)
    got = _run(spec, X, ("isometry_gap",), key=key)["isometry_gap"]
    for b in range(B):
        H = X.copy()
        want = [isometry_gap(H)]
        for l in range(1, L + 1):
            V = nc.householder_vectors_philox(key, l, b, d)
            A = apply_householder_haar(V[None], H[None])[0]
            H = A / np.linalg.norm(A, axis=1, keepdims=True)
            want.append(isometry_gap(H))
        np.testing.assert_allclose(got[b], want, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("scale", [1e-9, 0.0])
def test_ill_conditioned_and_singular_inputs_follow_the_cholesky_rule(scale):
    """A near-singular input (gap above the tracking bound: Cholesky at those layers) and a
    singular one (+inf at every layer, as the Cholesky path) give the Cholesky path's values."""
    d, L, B = 8, 30, 2
    X = np.eye(d)
    X[-1, -1] = scale
    X[-1, 0] = 1.0
    spec = _spec(X, L, B)
    a = _run(spec, X, ("isometry_gap",))["isometry_gap"]
    b = _run(spec, X, ("isometry_gap",), track=False)["isometry_gap"]
    assert np.array_equal(np.isinf(a), np.isinf(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], rtol=1e-8, atol=1e-12)
    if scale == 0.0:
        assert np.all(np.isinf(a))


def test_not_eligible_configurations():
    X = np.eye(6)
    flags = record_flags("rownorm", ("isometry_gap",))
    assert not nc.tracked_gap_eligible(_spec(X, 3, 2, activation="tanh"), flags)
    assert not nc.tracked_gap_eligible(_spec(X[:, :4], 3, 2), flags)
    assert not nc.tracked_gap_eligible(_spec(X, 3, 2, residual=0.5), flags)
    assert not nc.tracked_gap_eligible(_spec(X, 3, 2, norm="bn"), record_flags("bn", ("isometry_gap",)))
    assert not nc.tracked_gap_eligible(_spec(X, 3, 2),
                                       record_flags("rownorm", ("isometry_gap", "soft_rank")))


@pytest.mark.parametrize("d", [1, 2, 3, 4, 7, 12])
def test_pair_apply_equals_householder_haar(d):
    """``wy._pair_apply`` (two reflectors at a time, no BLAS) against the packed-vector
    reference ``depthcheck.kernels.random.haar.apply_householder_haar`` on the same vectors."""
    from depthcheck.kernels.backends.numba.wy import _pair_apply, _unit_rows
    rng = np.random.default_rng(d)
    n = d + 2
    V = np.tril(rng.standard_normal((d, d)))
    R = np.ascontiguousarray(V.T)
    tau, D = np.empty(d), np.empty(d)
    _unit_rows(R, tau, D)
    H = rng.standard_normal((d, n))
    Y = H.copy()
    _pair_apply(Y, R, tau, D, np.empty(5 * d))
    np.testing.assert_allclose(Y, apply_householder_haar(V[None], H[None])[0], atol=1e-13)


@pytest.mark.parametrize("X,kw,layer", [
    (np.zeros((6, 6)), dict(), 1),                                     # zero rows: rownorm
    (np.eye(6), dict(gains=np.array([1.0, 0.0, 1.0]), order="act_norm", norm="bn_nomean"), 2),
])
def test_degenerate_layers_stop_the_tracked_chain_as_the_cholesky_chain(X, kw, layer):
    """A zero row before the normalisation (zero input; a zero gain before an act_norm
    normalisation) stops the tracked chain at the same layer and trial, with the same message,
    as the untracked one (``fused._scale_rows`` counts bad divisors over all rows first)."""
    from depthcheck.kernels.chain.codes import ChainBreakdownError
    spec = _spec(X, 3, 2, **kw)
    msgs = []
    for track in (True, False):
        with pytest.raises(ChainBreakdownError, match=f"layer {layer}, trial 0: a row has zero") as e:
            _run(spec, X, ("isometry_gap",), track=track)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
