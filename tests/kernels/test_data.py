"""Tests for depthcheck.kernels.data (synthetic and images): shapes, determinism given the rng, no NaN, standardisation fitted on the
training split only, the mixture's component moments, exact whitening."""
import math

import numpy as np
import pytest

from depthcheck.kernels.data import (gaussian_mixture, haar_orthogonal, linear_teacher, load_digits_data,
                                    one_hot, whiten)


def test_mixture_shapes_labels_determinism():
    X, y = gaussian_mixture(np.random.default_rng(0))
    assert X.shape == (10, 1200) and y.shape == (1200,)
    assert np.all(np.isfinite(X)) and np.array_equal(np.bincount(y), [400, 400, 400])
    X2, y2 = gaussian_mixture(np.random.default_rng(0))
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = gaussian_mixture(np.random.default_rng(1))
    assert not np.allclose(X, X3)
    Xs, ys = gaussian_mixture(np.random.default_rng(0), shuffle=True)
    assert sorted(map(tuple, Xs.T.round(12))) == sorted(map(tuple, X.T.round(12)))


def test_mixture_component_covariance_is_rotated_scaled():
    # one component, many samples: covariance eigenvalues are the squared scales in range
    rng = np.random.default_rng(2)
    X, _ = gaussian_mixture(rng, n_per_class=200_000, dim=4, n_classes=1, mean_scale=0.0,
                            scale_range=(0.5, 2.0))
    ev = np.linalg.eigvalsh(np.cov(X))
    assert np.all(ev > 0.25 * 0.97) and np.all(ev < 4.0 * 1.03)
    assert np.abs(X.mean(axis=1)).max() < 5 * 2.0 / math.sqrt(200_000)


def test_haar_orthogonal():
    Q = haar_orthogonal(np.random.default_rng(3), 6)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-13)


def test_teacher_and_whitening():
    rng = np.random.default_rng(4)
    X, _ = gaussian_mixture(rng)
    Y, T = linear_teacher(rng, X)
    assert Y.shape == (3, 1200) and T.shape == (3, 10)
    np.testing.assert_allclose(Y, T @ X)
    Yn, _ = linear_teacher(np.random.default_rng(5), X, noise=0.1)
    assert not np.allclose(Yn, T @ X)
    Xw, M, m = whiten(X)
    np.testing.assert_allclose(Xw @ Xw.T / X.shape[1], np.eye(10), atol=1e-12)
    np.testing.assert_allclose(Xw, M @ (X - m), atol=1e-12)
    with pytest.raises(ValueError, match="singular"):
        whiten(np.vstack([X[:1], X[:1]]))


def test_digits_split_and_standardisation():
    d = load_digits_data(np.random.default_rng(6), test_fraction=0.25, standardise="feature")
    assert d.X_train.shape[0] == 64 and d.X_train.shape[1] + d.X_test.shape[1] == 1797
    assert d.X_test.shape[1] == round(0.25 * 1797)
    assert d.y_train.shape == (d.X_train.shape[1],) and set(np.unique(d.y_train)) == set(range(10))
    for a in (d.X_train, d.X_test):
        assert np.all(np.isfinite(a))
    # fitted on the training part: train features have mean 0 and sd 1 (or are constant 0)
    np.testing.assert_allclose(d.X_train.mean(axis=1), 0.0, atol=1e-12)
    sd = d.X_train.std(axis=1)
    assert np.all(np.isclose(sd, 1.0) | (sd == 0))
    # deterministic given the rng; a different rng gives a different split
    d2 = load_digits_data(np.random.default_rng(6), test_fraction=0.25, standardise="feature")
    assert np.array_equal(d.X_train, d2.X_train) and np.array_equal(d.y_test, d2.y_test)
    d3 = load_digits_data(np.random.default_rng(7), test_fraction=0.25, standardise="feature")
    assert not np.array_equal(d.y_train, d3.y_train)


def test_digits_options():
    raw = load_digits_data(test_fraction=0.0, standardise="none")
    assert raw.X_test is None and raw.X_train.shape == (64, 1797)
    assert raw.X_train.min() == 0 and raw.X_train.max() == 16
    unit = load_digits_data(test_fraction=0.0, standardise="unit")
    np.testing.assert_allclose(unit.X_train, raw.X_train / 16)
    g = load_digits_data(test_fraction=0.0, standardise="global")
    assert abs(g.X_train.mean()) < 1e-12 and abs(g.X_train.std() - 1) < 1e-12
    sub = load_digits_data(np.random.default_rng(8), test_fraction=0.5, n_samples=100,
                           classes=[3, 7])
    assert sub.X_train.shape == (64, 50) and set(np.unique(sub.y_train)) <= {0, 1}


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 1], [0, 0], [1, 0]])
    assert one_hot(np.array([[0, 1]]), 2).shape == (1, 2, 2)


@pytest.mark.parametrize("bad, match", [
    (lambda: gaussian_mixture(None), "rng"),
    (lambda: gaussian_mixture(np.random.default_rng(0), dim=0), "dim"),
    (lambda: gaussian_mixture(np.random.default_rng(0), scale_range=(2, 1)), "scale_range"),
    (lambda: linear_teacher(np.random.default_rng(0), np.ones((3, 4)), noise=-1), "noise"),
    (lambda: load_digits_data(None), "rng"),
    (lambda: load_digits_data(np.random.default_rng(0), test_fraction=1.0), "test_fraction"),
    (lambda: load_digits_data(np.random.default_rng(0), standardise="minmax"), "standardise"),
    (lambda: load_digits_data(np.random.default_rng(0), classes=[1, 1]), "classes"),
    (lambda: load_digits_data(np.random.default_rng(0), n_samples=5000), "n_samples"),
    (lambda: one_hot(np.array([3]), 3), "labels"),
])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_package_reexports_every_public_name_of_both_modules():
    import depthcheck.kernels.data as data
    from depthcheck.kernels.data import images, synthetic
    for mod in (synthetic, images):
        for name in mod.__all__:
            assert getattr(data, name) is getattr(mod, name), name
            assert name in data.__all__, name
    assert "load_digits_data" in images.__all__ and "load_digits_data" not in synthetic.__all__


def test_moved_names_still_resolve_from_synthetic():
    # deprecated location kept for callers not yet moved to ``depthcheck.kernels.data``
    from depthcheck.kernels.data import images, synthetic
    assert synthetic.load_digits_data is images.load_digits_data
    assert synthetic.STANDARDISE is images.STANDARDISE
    with pytest.raises(AttributeError, match="no_such_name"):
        synthetic.no_such_name
