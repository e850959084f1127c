"""The four- and eight-lane vectors of ``depthcheck.kernels.backends.numba.simd`` and the register-tiled
kernels built on them (``wy._pairs``, ``wy._unit_rows``, the sums of squares): each lane must do
exactly the arithmetic of the scalar description, so these kernels are compared bit for bit
with plain scalar loops written here (the pairs' with the scalar ``fma`` where the tiles use
``vfma``), and the Haar layer also against the numpy reference to rounding."""
import math

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from depthcheck.kernels.backends.numba import wy
from depthcheck.kernels.backends.numba.simd import (compress_store8, exact_float64x8, flip_sign,
                                                    fma, gather8, ge_bits, popcount,
                                                    scaled_copy_sumsq4,
                                                    scaled_copy_sumsq4_rows, sumsq4,
                                                    sumsq4_rows, uand, uiota8,
                                                    umul32, uor, ushl, ushr, usplat8,
                                                    uxor, uzip_hi, uzip_lo, vadd, vfma, vlane,
                                                    vload, vload8, vmul, vsplat, vsplat8,
                                                    vstore, vsub)
from depthcheck.kernels.random.haar import apply_householder_haar


def _make_lanes(load, splat, width):
    """A kernel: out[t:t+width] <- (a − b·c) + c at every multiple of width; lanes[:] <- the
    lanes of 3·a[:width] (``vlane`` at a run-time index)."""
    @njit
    def lanes_kernel(a, b, c, out, lanes):
        for t in range(0, a.size - width + 1, width):
            va = load(a, t)
            vc = load(c, t)
            vstore(out, t, vadd(vsub(va, vmul(load(b, t), vc)), vc))
        v = vmul(load(a, 0), splat(3))
        for j in range(width):
            lanes[j] = vlane(v, j)
    return lanes_kernel


_LANES = {4: _make_lanes(vload, vsplat, 4), 8: _make_lanes(vload8, vsplat8, 8)}


@pytest.mark.parametrize("width", [4, 8])
def test_lanewise_arithmetic_is_the_scalar_arithmetic(width):
    """Four and eight lanes (eight: one AVX-512 register, two AVX2 halves elsewhere): the
    scalar values."""
    rng = np.random.default_rng(width)
    a, b, c = rng.standard_normal((3, 40)) * np.logspace(-8, 8, 40)
    out = np.full(40, np.nan)
    lanes = np.full(width, np.nan)
    _LANES[width](a, b, c, out, lanes)
    np.testing.assert_array_equal(out, (a - b * c) + c)           # no fused multiply-add
    np.testing.assert_array_equal(lanes, 3.0 * a[:width])
    A2 = np.arange(24.0).reshape(3, 8)                            # 2-d C arrays: flat index
    out2 = np.zeros((3, 8))
    _LANES[width](A2, np.zeros((3, 8)), np.ones((3, 8)), out2, lanes)
    np.testing.assert_array_equal(out2, A2 + 1.0)


def _make_fma(load, width):
    @njit
    def fma_kernel(a, b, c, out, out_scalar):
        for t in range(0, a.size - width + 1, width):
            vstore(out, t, vfma(load(a, t), load(b, t), load(c, t)))
        for t in range(a.size):
            out_scalar[t] = fma(a[t], b[t], c[t])
    return fma_kernel


_FMA = {4: _make_fma(vload, 4), 8: _make_fma(vload8, 8)}


@pytest.mark.parametrize("width", [4, 8])
def test_fused_multiply_add_rounds_once(width):
    """``vfma`` lanes and the scalar ``fma`` are a·b + c rounded once: the exact rational value
    rounded to the nearest float (``fractions``), on cases where the product's own rounding
    would change the result (a·b = 1 − 2⁻⁶⁰ against c = −1: 0.0 when rounded twice) and on
    random ones over 32 binades."""
    from fractions import Fraction
    rng = np.random.default_rng(width)
    a, b, c = rng.standard_normal((3, 64)) * np.logspace(-16, 16, 64)
    c[::3] = -(a[::3] * b[::3])                    # cancellation: the product's rounding error
    a[:2], b[:2], c[:2] = 1 + 2.0**-30, 1 - 2.0**-30, -1.0
    out, out_s = np.full(64, np.nan), np.full(64, np.nan)
    _FMA[width](a, b, c, out, out_s)
    exact = np.array([float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)])
    np.testing.assert_array_equal(out, exact)
    np.testing.assert_array_equal(out_s, exact)
    assert out[0] == -2.0**-60 and (a[0] * b[0]) + c[0] == 0.0
    assert (out != (a * b) + c).sum() > 10            # the test tells fused from unfused


def test_lanes_of_two_widths_do_not_mix():
    @njit
    def mix(x):
        return vlane(vadd(vload(x, 0), vload8(x, 0)), 0)

    with pytest.raises(TypingError):
        mix(np.arange(8.0))

    @njit
    def mix_fma(x):
        v = vload(x, 0)
        return vlane(vfma(v, v, vload8(x, 0)), 0)

    with pytest.raises(TypingError):
        mix_fma(np.arange(8.0))


def test_lanes_refuse_non_contiguous_and_non_float64_arrays():
    @njit
    def load(x):
        return vlane(vload(x, 0), 0)

    assert load(np.arange(8.0)) == 0.0
    with pytest.raises(TypingError):
        load(np.arange(16.0)[::2])
    with pytest.raises(TypingError):
        load(np.arange(8, dtype=np.float32))


def _partial_sums(x):
    """Σ x² as four partial sums over x[j::4] (the tail x[4⌊L/4⌋:] into the first), combined
    (s0 + s1) + (s2 + s3)."""
    L = x.size
    L4 = L - L % 4
    s = [0.0, 0.0, 0.0, 0.0]
    for t in range(0, L4, 4):
        for j in range(4):
            s[j] += x[t + j] * x[t + j]
    for t in range(L4, L):
        s[0] += x[t] * x[t]
    return (s[0] + s[1]) + (s[2] + s[3])


@pytest.mark.parametrize("L", [0, 1, 3, 4, 5, 11, 16, 37])
def test_sums_of_squares_are_the_four_partial_sums(L):
    x = np.random.default_rng(L).standard_normal(L + 3) * np.logspace(-5, 5, L + 3)
    assert sumsq4(x, 3, L) == _partial_sums(x[3:3 + L])
    h = np.empty(L)
    f = 0.37
    got = scaled_copy_sumsq4(x[:L].copy(), h, f)
    np.testing.assert_array_equal(h, x[:L] * f)
    assert got == _partial_sums(x[:L] * f)


@pytest.mark.parametrize("d,n,m", [(1, 0, 4), (3, 5, 8), (4, 4, 4), (5, 7, 8), (9, 50, 52),
                                   (8, 13, 16), (11, 37, 40)])
def test_row_sums_of_squares_are_the_four_partial_sums_of_each_row(d, n, m):
    """``sumsq4_rows`` (four rows interleaved; padding columns n .. m − 1 ignored) = the scalar
    four partial sums of every row, bit for bit."""
    A = np.random.default_rng(100 * d + n).standard_normal((d, m)) * np.logspace(-5, 5, m)
    out = np.full(d, np.nan)
    sumsq4_rows(A, n, out)
    for i in range(d):
        assert out[i] == _partial_sums(A[i, :n]), i


@pytest.mark.parametrize("d,n,m", [(1, 3, 8), (3, 5, 8), (4, 4, 4), (5, 7, 8), (8, 32, 32),
                                   (9, 50, 56), (11, 37, 40), (13, 2, 8)])
def test_row_scaled_copies_are_the_four_partial_sums_of_each_row(d, n, m):
    """``scaled_copy_sumsq4_rows`` (four rows interleaved; A's padding columns ignored): every
    row's copy and sum of squares are those of ``scaled_copy_sumsq4`` on the row alone, bit for
    bit, with a different factor per row (1.0 copies exactly)."""
    rng = np.random.default_rng(10 * d + n)
    A = rng.standard_normal((d, m)) * np.logspace(-5, 5, m)
    f = np.exp(rng.standard_normal(d))
    f[0] = 1.0
    H = np.full((d, n), np.nan)
    out = f.copy()
    scaled_copy_sumsq4_rows(A, H, out)
    for i in range(d):
        h = np.empty(n)
        assert out[i] == scaled_copy_sumsq4(A[i].copy(), h, f[i]), i
        assert out[i] == _partial_sums(A[i, :n] * f[i]), i
        np.testing.assert_array_equal(H[i], h)
    np.testing.assert_array_equal(H[0], A[0, :n])


# -------------------------------------------------------------- scalar descriptions (reference)
@njit
def _unit_rows_scalar(R, tau, D):
    d = R.shape[0]
    for k in range(d):
        row = R[k]
        for i in range(k):
            row[i] = 0.0
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        L = d - k
        L4 = L - L % 4
        for t in range(0, L4, 4):
            a0 += row[k + t] * row[k + t]
            a1 += row[k + t + 1] * row[k + t + 1]
            a2 += row[k + t + 2] * row[k + t + 2]
            a3 += row[k + t + 3] * row[k + t + 3]
        for t in range(L4, L):
            a0 += row[k + t] * row[k + t]
        nrm = math.sqrt((a0 + a1) + (a2 + a3))
        x0 = row[k]
        s = 1.0 if x0 >= 0 else -1.0
        vn = math.sqrt(2.0 * nrm * (nrm + abs(x0)))
        if k < d - 1 and vn > 0:
            inv = 1.0 / vn
            row[k] = (x0 + s * nrm) * inv
            for i in range(k + 1, d):
                row[i] *= inv
            tau[k] = 2.0
        else:
            for i in range(k, d):
                row[i] = 0.0
            tau[k] = 0.0
        D[k] = -s if k < d - 1 else s


@njit
def _pair_apply_scalar(Y, R, tau, D):
    """``wy._pairs``'s scalar description (its docstring), one column at a time."""
    d, n = Y.shape
    for i in range(d):
        for c in range(n):
            Y[i, c] *= D[i]
    w0 = np.empty(n)
    w1 = np.empty(n)
    k = d - 2
    while k >= 0:
        if k >= 1:
            a = k - 1
            ua, ub, ta, tb = R[a], R[k], tau[a], tau[k]
            s = 0.0
            for i in range(k, d):
                s += ua[i] * ub[i]
            for c in range(n):
                w0[c] = ua[a] * Y[a, c]
                w1[c] = 0.0
            for i in range(k, d):
                for c in range(n):
                    w0[c] = fma(ua[i], Y[i, c], w0[c])
                    w1[c] = fma(ub[i], Y[i, c], w1[c])
            t01 = -ta * tb * s
            for c in range(n):
                z0 = fma(ta, w0[c], t01 * w1[c])
                w1[c] = tb * w1[c]
                w0[c] = z0
            for c in range(n):
                Y[a, c] = fma(-ua[a], w0[c], Y[a, c])
            for i in range(k, d):
                for c in range(n):
                    Y[i, c] = fma(-ua[i], w0[c], fma(-ub[i], w1[c], Y[i, c]))
            k -= 2
        else:
            u = R[k]
            for c in range(n):
                w0[c] = 0.0
            for i in range(k, d):
                for c in range(n):
                    w0[c] = fma(u[i], Y[i, c], w0[c])
            for i in range(k, d):
                x = -(tau[k] * u[i])
                for c in range(n):
                    Y[i, c] = fma(x, w0[c], Y[i, c])
            k -= 1


def _reflectors(d, rng, zero_rows=()):
    V = np.tril(rng.standard_normal((d, d)))
    for k in zero_rows:
        V[:, k] = 0.0                                  # a zero Householder vector (τ = 0)
    R = np.ascontiguousarray(V.T)
    tau, D = np.empty(d), np.empty(d)
    return V, R, tau, D


@pytest.mark.parametrize("d", [1, 2, 3, 6, 9, 17, 33])
def test_unit_rows_are_the_scalar_description(d):
    rng = np.random.default_rng(d)
    _, R, tau, D = _reflectors(d, rng, zero_rows=(d // 2,))
    R[0, :] *= 1e-200                                  # norms far from 1 take the same path
    R2, tau2, D2 = R.copy(), np.empty(d), np.empty(d)
    R[1:, 0] = np.nan                                   # below the diagonal: must be zeroed
    wy._unit_rows(R, tau, D)
    _unit_rows_scalar(R2, tau2, D2)
    np.testing.assert_array_equal(R, R2)
    np.testing.assert_array_equal(tau, tau2)
    np.testing.assert_array_equal(D, D2)
    if d > 2:
        assert tau[d // 2] == 0.0 and not R[d // 2].any()


@pytest.mark.parametrize("d", [1, 4, 13, 32])
def test_unit_rows_from_packed_normals(d):
    """``_unit_rows_packed`` (the fused kernels' draw: x_k packed in z) = the rows filled from z
    then ``_unit_rows_scalar``, bit for bit, a zero x_k (a zero reflector) and x_k[0] = −0.0
    among them."""
    z = np.random.default_rng(d).standard_normal(d * (d + 1) // 2)
    k0 = d // 3
    p0 = k0 * d - k0 * (k0 - 1) // 2
    z[p0:p0 + d - k0] = 0.0
    if d > 2:
        z[p0 + d - k0] = -0.0
    R = np.full((d, d), np.nan)
    tau, D = np.empty(d), np.empty(d)
    wy._unit_rows_packed(z, R, tau, D)
    R2 = np.zeros((d, d))
    p = 0
    for k in range(d):
        R2[k, k:] = z[p:p + d - k]
        p += d - k
    tau2, D2 = np.empty(d), np.empty(d)
    _unit_rows_scalar(R2, tau2, D2)
    np.testing.assert_array_equal(R, R2)
    np.testing.assert_array_equal(tau, tau2)
    np.testing.assert_array_equal(D, D2)


@pytest.mark.parametrize("wide", [False, True], ids=["4-lane", "8-lane"])
@pytest.mark.parametrize("d,n", [(1, 3), (2, 5), (3, 4), (4, 16), (5, 16), (6, 8), (9, 12), (8, 21),
                                 (7, 24), (10, 28), (12, 35), (17, 17), (32, 32), (33, 50),
                                 (20, 52), (11, 40), (9, 56), (13, 72), (101, 100), (200, 36)])
def test_pairs_are_the_scalar_description_bit_for_bit(d, n, wide):
    """Every tiling of m = n // 4 four-lane vectors (``wy._pairs_vectors``: m = 1, 2, 3, 4, 5,
    6, 7, 8, 9, 10, 12, 13, 14, 18, 25 — tiles of 4, 3 and 1 vectors) and, ``wide``, of m // 2
    eight-lane vectors (``wy._pairs_vectors8``: 1, 2, 3, 4, 5, 6, 7, 9, 12 — tiles of 4, 3, 2)
    before the odd four-lane one, on every machine (the default is ``wy.WIDE_TILES``), the
    padded tail of n mod 4 (n = 5, 21, 35, 50), odd and even d (the first reflector alone),
    the eight-lane tiles' fused passes (one pair's update with the next pair's sums: d >= 5;
    none at d <= 4),
    four pairs' coefficients at a time (d >= 9) and a zero reflector among them."""
    rng = np.random.default_rng(100 * d + n)
    V, R, tau, D = _reflectors(d, rng, zero_rows=(d // 3,) if d > 3 else ())
    wy._unit_rows(R, tau, D)
    H = rng.standard_normal((d, n)) * np.logspace(-3, 3, n)
    Y = H.copy()
    wy._pair_apply(Y, R, tau, D, np.full(wy.pair_work_size(d), np.nan), wide)
    Y0 = H.copy()
    _pair_apply_scalar(Y0, R, tau, D)
    np.testing.assert_array_equal(Y, Y0)
    V, R, tau, D = _reflectors(d, rng)                 # and W·H itself, to rounding
    wy._unit_rows(R, tau, D)
    Y = H.copy()
    wy._pair_apply(Y, R, tau, D, np.empty(wy.pair_work_size(d)), wide)
    ref = apply_householder_haar(V[None], H[None])[0]
    err = np.abs(Y - ref).max(axis=0) / np.abs(H).max(axis=0)      # per column: scales differ
    assert err.max() < 1e-14 * (d + 4), err.max()


_TILE_FORMS: dict = {}


def _tile_forms(w):
    """(fused, two-pass) eight-lane tiles of w vectors, compiled once per w."""
    if w not in _TILE_FORMS:
        forms = []
        for name, src in (("fused", wy._fused_tile_source(w)),
                          ("two-pass", wy._tile_source(w, 8))):
            ns = {}
            exec(compile(src, f"<test {name}>", "exec"), vars(wy), ns)
            forms.append(njit(ns[f"_pairs_tile{w}x8"]))
        _TILE_FORMS[w] = tuple(forms)
    return _TILE_FORMS[w]


@pytest.mark.parametrize("w", [2, 3, 4])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6, 7, 8, 13, 32, 51])
def test_fused_eight_lane_tiles_equal_their_two_pass_form(d, w):
    """``wy._fused_tile_source`` (one pass a pair: a pair's update and the next pair's sums)
    against ``wy._tile_source(w, 8)`` (two passes a pair) on the same tile of a wider Y, bit for
    bit, a zero reflector among the pairs; columns outside the tile untouched."""
    rng = np.random.default_rng(10 * d + w)
    _, R, tau, D = _reflectors(d, rng, zero_rows=(d // 2,) if d > 2 else ())
    wy._unit_rows(R, tau, D)
    cf = np.full(wy.pair_work_size(d), np.nan)
    wy._pair_coefs(R, tau, cf)
    n = 8 * w + 16
    Y = rng.standard_normal((d, n)) * np.logspace(-3, 3, n)
    out = []
    for tile in _tile_forms(w):
        Yf = Y.copy().reshape(-1)
        tile(Yf, n, 8, R, tau, cf)
        out.append(Yf.reshape(d, n))
    fused, two_pass = out
    np.testing.assert_array_equal(fused, two_pass)
    np.testing.assert_array_equal(fused[:, :8], Y[:, :8])
    np.testing.assert_array_equal(fused[:, 8 + 8 * w:], Y[:, 8 + 8 * w:])
    if d > 1:
        assert not np.array_equal(fused[:, 8:8 + 8 * w], Y[:, 8:8 + 8 * w])


def test_pairs_refuse_a_short_work_space():
    d, n = 4, 4
    _, R, tau, D = _reflectors(d, np.random.default_rng(0))
    wy._unit_rows(R, tau, D)
    with pytest.raises(ValueError, match="work space"):
        wy._pairs(np.ones((d, n)), R, tau, np.empty(5 * d - 1))


def test_eight_lane_default_follows_numbas_target(monkeypatch):
    """``simd.HAS_AVX512`` (the default of ``wy._pairs``'s ``wide``) reads numba's target: the
    features of ``NUMBA_CPU_FEATURES`` when set, False for another named CPU."""
    from numba.core import config
    from depthcheck.kernels.backends.numba import simd
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,+fma,-avx512f")
    assert simd._target_has_avx512() is False
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,+avx512f")
    assert simd._target_has_avx512() is True
    monkeypatch.setattr(config, "CPU_FEATURES", None)
    monkeypatch.setattr(config, "CPU_NAME", "generic")
    assert simd._target_has_avx512() is False
    assert wy.WIDE_TILES == simd.HAS_AVX512


def test_fma_flag_follows_numbas_target(monkeypatch):
    """``simd.HAS_FMA`` reads numba's target like ``HAS_AVX512`` (x86 FMA3 in the features;
    False for a named portable CPU, e.g. ``NUMBA_CPU_NAME=generic``), and without it
    ``wy.pair_apply_wins`` leaves every width to BLAS (the pairs' ``llvm.fma`` would run in
    software, ~10x slower)."""
    from numba.core import config
    from depthcheck.kernels.backends.numba import simd
    x86 = not simd._llvm.get_process_triple().startswith(("aarch64", "arm64"))
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,-fma,-avx512f")
    assert simd._target_has_fma() is not x86
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,+fma")
    assert simd._target_has_fma() is True
    monkeypatch.setattr(config, "CPU_FEATURES", None)
    monkeypatch.setattr(config, "CPU_NAME", "generic")
    assert simd._target_has_fma() is not x86
    monkeypatch.setattr(wy, "HAS_FMA", False)
    assert not any(wy.pair_apply_wins.py_func(d) for d in (8, 32, 50, 72, 200))
    monkeypatch.setattr(wy, "HAS_FMA", True)
    assert all(wy.pair_apply_wins.py_func(d) for d in (8, 32, 50, 72, 200))


def test_zeros_aligned_starts_every_row_on_64_bytes():
    from depthcheck.kernels.backends.numba.simd import zeros_aligned
    for rows, cols in [(1, 8), (3, 16), (50, 56), (7, 8)]:
        A = zeros_aligned(rows, cols)
        assert A.shape == (rows, cols) and A.flags.c_contiguous
        assert A.ctypes.data % 64 == 0 and not A.any()
        A[-1, -1] = 1.0                                  # its own memory, writable


@pytest.mark.parametrize("wide", [False, True], ids=["4-lane", "8-lane"])
@pytest.mark.parametrize("d,n", [(5, 5), (32, 32), (50, 50), (13, 100), (9, 33)])
def test_pairs_on_padded_rows_equal_pairs_on_the_columns(d, n, wide):
    """``wy.pairs_padded`` (the fused chain's call: rows padded to a multiple of 8, n rounded
    up to 4 columns or, with eight-lane tiles, the whole padded row: ``wy.padded_vectors``)
    gives ``_pairs``'s values on the n columns, bit for bit, and leaves the padding zero."""
    from depthcheck.kernels.backends.numba.simd import zeros_aligned
    rng = np.random.default_rng(d + n)
    _, R, tau, D = _reflectors(d, rng)
    wy._unit_rows(R, tau, D)
    H = rng.standard_normal((d, n))
    Y = H.copy()
    wy._pairs(Y, R, tau, np.empty(wy.pair_work_size(d)), wide)
    assert wy.padded_vectors(n, False) == (n + 3) // 4
    assert wy.padded_vectors(n, True) == (n + (-n) % 8) // 4
    for m in sorted({(n + 3) // 4, wy.padded_vectors(n, wide)}):
        P = zeros_aligned(d, n + (-n) % 8)
        P[:, :n] = H
        wy.pairs_padded(P, m, R, tau, np.empty(wy.pair_work_size(d)), wide)
        np.testing.assert_array_equal(P[:, :n], Y)
        assert not P[:, n:].any()
    with pytest.raises(ValueError, match="columns beyond Y"):
        wy.pairs_padded(P, P.shape[1] // 4 + 1, R, tau, np.empty(wy.pair_work_size(d)), wide)



# ---------------------------------------------------------------- uint64 lanes
@njit
def _u64_kernel(a, b, tab_f, tab_u, idx, out, fout):
    """Every ``uint64x8`` operation on the eight lanes of a and b: integer results in the rows
    of out, float ones in the rows of fout (the order of ``_u64_numpy``)."""
    va = vload8(a, 0)
    vb = vload8(b, 0)
    vi = vload8(idx, 0)
    rows = (uand(va, vb), uor(va, vb), uxor(va, vb), umul32(va, vb), ushr(va, 32), ushr(va, 5),
            ushl(va, 32), ushl(va, 63), uzip_lo(va, vb), uzip_hi(va, vb), usplat8(b[3]),
            uiota8(a[0]), gather8(tab_u, vi))
    for r in range(len(rows)):
        vstore(out[r], 0, rows[r])
    for t in range(8):
        out[len(rows), t] = vlane(va, t)
    out[len(rows) + 1, 0] = ge_bits(va, vb)
    vstore(fout[0], 0, gather8(tab_f, vi))
    vstore(fout[1], 0, exact_float64x8(ushr(va, 12)))
    vstore(fout[2], 0, flip_sign(gather8(tab_f, vi), vb))


def _u64_numpy(a, b, tab_f, tab_u, idx):
    """``_u64_kernel``'s rows computed lane by lane with Python integers (exact)."""
    M, lo = 2**64, 2**32 - 1
    A, B = [int(v) for v in a], [int(v) for v in b]
    rows = [[x & y for x, y in zip(A, B)], [x | y for x, y in zip(A, B)],
            [x ^ y for x, y in zip(A, B)], [(x & lo) * (y & lo) for x, y in zip(A, B)],
            [x >> 32 for x in A], [x >> 5 for x in A], [(x << 32) % M for x in A],
            [(x << 63) % M for x in A], [v for t in range(4) for v in (A[t], B[t])],
            [v for t in range(4, 8) for v in (A[t], B[t])], [B[3]] * 8,
            [(A[0] + t) % M for t in range(8)], [int(tab_u[i]) for i in idx], A,
            [sum(1 << t for t in range(8) if A[t] >= B[t])] + [0] * 7]
    f = [[float(tab_f[i]) for i in idx], [float(x >> 12) for x in A],
         [-float(tab_f[i]) if y & 1 else float(tab_f[i]) for i, y in zip(idx, B)]]
    return np.array(rows, dtype=np.uint64), np.array(f)


def test_uint64_lanes_are_exact_integer_arithmetic():
    """Each ``uint64x8`` operation equals Python's exact integer arithmetic lane by lane, on
    lanes with their high halves set (``umul32`` must ignore them, ``ge_bits`` must compare
    unsigned across 2⁶³), at the wrap of ``uiota8`` and with gathers at both table ends;
    ``flip_sign`` also on ±0.0 and ±inf."""
    rng = np.random.default_rng(64)
    tab_f = rng.standard_normal(256)
    tab_f[:4] = [0.0, -0.0, np.inf, -np.inf]
    tab_u = rng.integers(0, 2**64, 256, dtype=np.uint64)
    for trial in range(20):
        a = rng.integers(0, 2**64, 8, dtype=np.uint64)
        b = rng.integers(0, 2**64, 8, dtype=np.uint64)
        if trial == 0:
            a[0] = 2**64 - 3                                   # uiota8 wraps
            b[:4] = a[:4]                                      # ge_bits on equal lanes
            a[4], b[4] = 2**63, 2**63 - 1                      # unsigned across the sign bit
        idx = rng.integers(0, 256, 8).astype(np.uint64)
        idx[:4] = [0, 1, 2 + trial % 2, 255]
        out = np.zeros((15, 8), dtype=np.uint64)
        fout = np.zeros((3, 8))
        _u64_kernel(a, b, tab_f, tab_u, idx, out, fout)
        want, fwant = _u64_numpy(a, b, tab_f, tab_u, idx)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(fout.view(np.uint64), fwant.view(np.uint64))  # signs of 0


@njit
def _compress_kernel(x, bits, out):
    """out[o:] <- the lanes of x[8q:8q + 8] kept by bits[q], block after block; returns o."""
    o = 0
    for q in range(bits.size):
        compress_store8(out, o, vload8(x, 8 * q), bits[q])
        o += popcount(bits[q])
    return o


def test_compress_store_writes_exactly_the_kept_lanes_in_order():
    """``compress_store8`` stores the lanes of the set bits (of the low 8), in order, and writes
    nothing else (the NaN sentinels after them survive); ``popcount`` counts set bits of
    the whole word."""
    rng = np.random.default_rng(7)
    bits = np.array([0, 0xFF, 1, 0x80, 0x5A] + list(rng.integers(0, 256, 27)), dtype=np.uint64)
    x = rng.standard_normal(8 * bits.size)
    out = np.full(x.size + 3, np.nan)
    o = _compress_kernel(x, bits, out)
    keep = np.unpackbits(bits.astype(np.uint8)[:, None], axis=1, bitorder="little").ravel()
    want = x[keep.astype(bool)]
    assert o == want.size
    np.testing.assert_array_equal(out[:o], want)
    assert np.isnan(out[o:]).all()
    wide = np.uint64(2**64 - 1)
    assert _popcount_kernel(wide) == 64 and _popcount_kernel(np.uint64(0)) == 0
    assert _popcount_kernel(np.uint64(0x8000_0000_0000_0101)) == 3


@njit
def _popcount_kernel(v):
    return popcount(v)


def test_uint64_lanes_refuse_wrong_operands():
    """Typing errors, not silent conversions: a four-lane load of a uint64 array, an int64
    array to ``vload8``, a uint64x8 stored into a float64 array, a shift count that is not a
    literal in [0, 64)."""
    @njit
    def load4(x):
        return vlane(vload(x, 0), 0)

    @njit
    def load8(x):
        return vlane(vload8(x, 0), 0)

    @njit
    def store_into(x, y):
        vstore(y, 0, vload8(x, 0))

    @njit
    def shift_by(x, k):
        return vlane(ushr(vload8(x, 0), k), 0)

    @njit
    def shift_64(x):
        return vlane(ushr(vload8(x, 0), 64), 0)

    u = np.zeros(8, dtype=np.uint64)
    assert load8(u) == 0 and isinstance(load8(u), (int, np.integer))
    with pytest.raises(TypingError):
        load4(u)
    with pytest.raises(TypingError):
        load8(np.zeros(8, dtype=np.int64))
    with pytest.raises(TypingError):
        store_into(u, np.zeros(8))
    with pytest.raises(TypingError):
        shift_by(u, 3)
    with pytest.raises(TypingError):
        shift_64(u)
