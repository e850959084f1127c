"""ChainSpec.from_arguments: every argument of simulate_chain checked once, one signature for
the engine-specific entry points, and the spec the engines receive."""
import math
import warnings

import numpy as np
import pytest

from depthcheck.kernels.backends import numpy as numpy_engine
from depthcheck.kernels.chain import driver
from depthcheck.kernels.chain.errors import UnsupportedEngineError
from depthcheck.kernels.chain.spec import ChainSpec

X4 = np.random.default_rng(0).standard_normal((4, 3))


def _spec(**kw):
    args = dict(trials=2, rng=np.random.default_rng(0))
    args.update(kw)
    return ChainSpec.from_arguments(args.pop("X", X4), args.pop("depth", 3), **args)


# the exact messages of the checks (written out, not read from the code under test)
@pytest.mark.parametrize("kw,message", [
    (dict(depth=0), "depth must be >= 1, got 0"),
    (dict(trials=2.0), "trials must be an integer, got 2.0"),
    (dict(weights="orthogonal"),
     "weights='orthogonal' is not one of ('haar', 'gaussian', 'uniform')"),
    (dict(weight_std=0.5), "weight_std applies to gaussian/uniform weights only; Haar weights "
                           "are orthogonal (pass weight_std=None)"),
    (dict(gains=[1.0, 2.0]), "gains must hold one gain per layer (3), got 2"),
    (dict(gains=[1.0] * 3, gain_exponent=1.0),
     "give at most one of gains and gain_exponent, not both"),
    (dict(residual=0.0), "residual must be None or a finite nonzero real γ, got 0.0"),
    (dict(tau=1.0), "tau must be a real number in [0, 1), got 1.0"),
    (dict(record=("entropy",)), "record: unknown statistic 'entropy'; choose from"),
    (dict(gradients=True, n_out=5), "n_out=5 exceeds the width d=4: the readout needs "
                                    "orthonormal rows (n_out <= d)"),
    (dict(labels=[0, 1]), "labels must have shape (n,) = (3,), got (2,)"),
    (dict(X=np.ones((3, 4, 3))), "X is batched with 3 trials but trials=2; pass X of shape "
                                 "(d, n) or (trials, d, n)"),
    (dict(progress=1), "progress must be True or False, got 1"),
])
def test_messages_name_the_argument(kw, message):
    with pytest.raises(ValueError) as info:
        _spec(**kw)
    assert str(info.value).startswith(message), str(info.value)


def test_an_engine_that_cannot_run_the_request_refuses_when_the_spec_is_built():
    with pytest.raises(UnsupportedEngineError, match="weights='uniform'"):
        _spec(method="reduced", weights="uniform")
    with pytest.raises(UnsupportedEngineError, match="n <= d"):
        _spec(X=np.ones((3, 4)) + np.eye(3, 4), method="reduced")


def test_the_spec_carries_the_whole_request():
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    s = ChainSpec.from_arguments([[1, 2], [3, 4], [5, 7]], 10, trials=4, rng=rng,
                                 weights="gaussian", gain_exponent=0.5, record="soft_rank",
                                 labels=np.array([1, 0], dtype=np.int32), n_out=2, tau=0.25,
                                 backend="reduced")
    assert rng.bit_generator.state == state                  # rng is checked, not consumed
    assert (s.d, s.n, s.depth, s.trials) == (3, 2, 10, 4)
    assert s.X.dtype == np.float64 and s.X.shape == (3, 2)
    assert s.weight_std == 1 / math.sqrt(3)
    np.testing.assert_array_equal(s.gains, np.arange(1, 11) ** -0.5)
    assert s.record == ("soft_rank",) and s.tau == 0.25
    assert s.labels.dtype == np.intp and s.labels.tolist() == [1, 0]
    assert s.checkpoint_every == 4                           # ceil(sqrt(10))
    assert (s.method, s.backend) == ("reduced", "numpy")     # the earlier spelling, resolved
    assert not s.matrix_free and not s.rescale


@pytest.mark.parametrize("d,n,gradients,weights,expected", [
    (64, 16, False, "haar", True), (64, 17, False, "haar", False),
    (64, 16, True, "haar", False), (64, 16, False, "gaussian", False), (32, 4, False, "haar", False)])
def test_matrix_free_rule(d, n, gradients, weights, expected):
    s = _spec(X=np.eye(d, n) + 1.0, weights=weights, gradients=gradients, n_out=2)
    assert s.matrix_free is expected


def test_rescale_only_for_norm_free_homogeneous_chains():
    assert _spec(norm="none", activation="relu").rescale
    assert not _spec(norm="none", activation="tanh").rescale
    assert not _spec(norm="bn", activation="relu").rescale


def test_the_positional_validate_is_gone_and_entry_points_share_one_signature():
    assert not hasattr(driver, "_validate")
    from depthcheck.kernels.backends.numba import fused, reduced as numba_reduced
    from depthcheck.kernels.chain import reduced
    for f in (fused.simulate_chain_numba, numba_reduced.simulate_reduced_chain_numba,
              reduced.simulate_reduced_chain):
        with pytest.raises(ValueError, match="backend: this entry point runs"):
            f(X4, 2, trials=1, rng=np.random.default_rng(0), backend="numpy")
        with pytest.raises(ValueError, match="depth must be >= 1"):
            f(X4, 0, trials=1, rng=np.random.default_rng(0))


def test_reexports_are_the_same_object():
    assert numpy_engine.ChainSpec is ChainSpec and driver.ChainSpec is ChainSpec
    from depthcheck.kernels.chain import spec as spec_module
    assert numpy_engine.WEIGHTS is spec_module.WEIGHTS
    assert numpy_engine.HOMOGENEOUS_ACTIVATIONS is spec_module.HOMOGENEOUS_ACTIVATIONS


def test_simulate_chain_is_run_spec_of_the_built_spec():
    kw = dict(trials=2, weights="gaussian", norm="bn", activation="tanh", gradients=True,
              n_out=2, record_every=2)
    a = driver.simulate_chain(X4, 4, rng=np.random.default_rng(3), **kw)
    spec = ChainSpec.from_arguments(X4, 4, rng=np.random.default_rng(99), **kw)
    b = driver.run_spec(spec, np.random.default_rng(3))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
