"""Counter-based Philox4x32-10 random numbers shared by the numba (CPU) and CUDA chain kernels.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3",
SC'11): a keyed bijection of a 128-bit counter (four 32-bit words) under a 64-bit key, ten
rounds of

    (c0, c1, c2, c3) <- (hi(M1·c2) ^ c1 ^ k0,  lo(M1·c2),  hi(M0·c0) ^ c3 ^ k1,  lo(M0·c0)),
    (k0, k1) <- (k0 + W0, k1 + W1)  (mod 2³²),

M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85; checked against Random123's
known-answer vectors in the tests. Counter-based means any (stream, index) is computed without
sequential state, so every trial, layer and thread draws its own numbers in any order.

Counter layout used by the chain kernels: (c0, c1, c2, c3) = (index, layer, trial, stream); the
key is derived from the chain's ``rng`` (``philox_key``). Normal deviates:

* ``"box_muller"`` (GPU and CPU): counter index t//2 gives the pair (z_{2t'}, z_{2t'+1}) from two
  53-bit uniforms u1 = (a·2²⁶ + b + 1/2)/2⁵³ ∈ (0, 1), u2 = (c·2²⁶ + e)/2⁵³ ∈ [0, 1)
  (a, b, c, e the words >> 5, 6, 5, 6): z = √(−2 log u1)·(cos 2πu2, sin 2πu2). Order free.
* ``"ziggurat"`` (CPU default, ~3x cheaper than Box–Muller there): numpy's ziggurat
  (``random_standard_normal`` of numpy's distributions.c, its tables) fed by the 64-bit words
  (c0 << 32 | c1), (c2 << 32 | c3) of counters 0, 1, 2, ... — a sequential stream per
  (layer, trial, stream), with rejection.

Both are exact N(0, 1) samplers (up to the 2⁻⁵³ resolution of the uniforms). The functions
below are written once in plain Python on integer/float scalars so that numba compiles them for
the CPU (``njit``) and for CUDA (``cuda.jit(device=True)``, see ``depthcheck.kernels.backends.cuda.device``); the
same ``philox4x32_10`` also runs vectorised on numpy ``uint64`` arrays (the reference used to
share a random stream with the numpy engine in tests).

Editing this file: the cached numba kernels that compile these functions in
(``depthcheck.kernels.backends.numba.trial.kernel_fingerprint``) close over a hash of this file and
recompile after an edit (numba alone would keep stale machine code; ``depthcheck.kernels.backends.numba._cache``).
The functions that compile in the vectors of ``depthcheck.kernels.backends.numba.simd`` are not
cached themselves: numba would key their cache on this file alone and link a stale copy into a
kernel after an edit to ``simd.py``. ``normal_stream`` calls them through ``_fill_normals_entry``,
cached under a hash of ``simd.py`` and ``_jit.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from depthcheck.kernels.backends.numba import _jit, simd as _simd
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.kernels.backends.numba.simd import (compress_store8, exact_float64x8, flip_sign,
                                                    gather8, ge_bits, popcount, uand, uiota8,
                                                    umul32, uor, ushl, ushr, usplat8, uxor,
                                                    uzip_hi, uzip_lo, vload8, vmul, vstore)

__all__ = ["philox4x32_10", "philox_key", "box_muller_normals", "ziggurat_normals",
           "normal_stream", "key_from_root", "readout_philox", "READOUT_STREAM",
           "PHILOX_M0", "PHILOX_M1"]

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
_M0 = np.uint64(PHILOX_M0)
_M1 = np.uint64(PHILOX_M1)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S5 = np.uint64(5)
_S6 = np.uint64(6)
_S11 = np.uint64(11)
_TWO26 = 67108864.0
_INV53 = 1.0 / 9007199254740992.0
_TWO_PI = 6.283185307179586


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """The four 32-bit output words (as uint64 values < 2³²) for counter (c0..c3), key (k0, k1).

    Inputs are uint64 values < 2³² (scalars in numba, scalars or arrays in numpy)."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ k0, p1 & _MASK,
                          (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK)
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def box_muller_pair(r0, r1, r2, r3):
    """Two independent N(0, 1) deviates from one Philox output (module docstring)."""
    u1 = (np.float64(r0 >> _S5) * _TWO26 + np.float64(r1 >> _S6) + 0.5) * _INV53
    u2 = (np.float64(r2 >> _S5) * _TWO26 + np.float64(r3 >> _S6)) * _INV53
    rad = math.sqrt(-2.0 * math.log(u1))
    th = _TWO_PI * u2
    return rad * math.cos(th), rad * math.sin(th)


_philox_cpu = njit(philox4x32_10, inline="always", cache=True)
_box_muller_cpu = njit(box_muller_pair, inline="always", cache=True)


def _ziggurat_tables():
    """numpy's ziggurat tables (256 layers), as vendored by numba for its Generator support."""
    from numba.np.random import _constants as c
    return (np.ascontiguousarray(c.ki_double, dtype=np.uint64),
            np.ascontiguousarray(c.wi_double, dtype=np.float64),
            np.ascontiguousarray(c.fi_double, dtype=np.float64),
            float(c.ziggurat_nor_r), float(c.ziggurat_nor_inv_r))


_KI, _WI, _FI, _ZIG_R, _ZIG_INV_R = _ziggurat_tables()
_ZBUF = 64          # 64-bit words generated per refill: one 64-bit mask of fast-test failures
#: uint64 words of work space ``_fill_normals`` needs: the words, their ziggurat candidates and
#: a block's kept candidates near the end of the output
ZIG_WORK = 3 * _ZBUF
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ZMANT = np.uint64(0x000FFFFFFFFFFFFF)


@njit(inline="always", cache=True)
def _philox_masked(c0, c1, c2, c3, k0, k1):
    """``philox4x32_10`` with every operand masked to 32 bits: a no-op on valid (< 2³²) words
    that lets LLVM prove the products 32×32-bit and vectorise a loop of calls with vpmuludq in
    every round (unmasked: vpmullq in the first round, and 1.5x the time)."""
    a = c0 & _MASK
    b = c1 & _MASK
    c = c2 & _MASK
    e = c3 & _MASK
    K0 = k0 & _MASK
    K1 = k1 & _MASK
    for _ in range(10):
        p0 = _M0 * (a & _MASK)
        p1 = _M1 * (c & _MASK)
        a, b, c, e = (((p1 >> _S32) ^ b ^ K0) & _MASK, p1 & _MASK,
                      ((p0 >> _S32) ^ e ^ K1) & _MASK, p0 & _MASK)
        K0 = (K0 + _W0) & _MASK
        K1 = (K1 + _W1) & _MASK
    return a, b, c, e


@njit(inline="always")
def _philox_x8(start, c1, c2, c3, k0, k1):
    """The words (c0 << 32 | c1), (c2 << 32 | c3) of Philox4x32-10 on the eight counters
    (start + t, c1, c2, c3), t < 8, as two ``uint64x8`` (``philox4x32_10``'s rounds in eight
    lanes). A lane holds a 32-bit Philox word in its low half; the high half is left as it
    falls (``umul32`` reads only the low halves, the output masks them), which saves the two
    masks of every round."""
    M0 = usplat8(_M0)
    M1 = usplat8(_M1)
    a = uiota8(start)
    b = usplat8(c1)
    c = usplat8(c2)
    e = usplat8(c3)
    K0 = k0 & _MASK
    K1 = k1 & _MASK
    for _ in range(10):
        p0 = umul32(M0, a)
        p1 = umul32(M1, c)
        a, b, c, e = (uxor(uxor(ushr(p1, 32), b), usplat8(K0)), p1,
                      uxor(uxor(ushr(p0, 32), e), usplat8(K1)), p0)
        K0 = (K0 + _W0) & _MASK
        K1 = (K1 + _W1) & _MASK
    low = usplat8(_MASK)
    return uor(ushl(a, 32), uand(b, low)), uor(ushl(c, 32), uand(e, low))


@njit_noalloc
def _refill(buf, start, k0, k1, c1, c2, c3):
    """buf[2j], buf[2j + 1] <- the words (c0 << 32 | c1), (c2 << 32 | c3) of Philox4x32-10 on
    counter (start + j, c1, c2, c3): eight counters at a time (``_philox_x8``), a tail of
    fewer one by one (``_philox_masked``)."""
    nc = buf.size // 2
    j = 0
    while j + 8 <= nc:
        lo, hi = _philox_x8(np.uint64(start + j), c1, c2, c3, k0, k1)
        vstore(buf, 2 * j, uzip_lo(lo, hi))
        vstore(buf, 2 * j + 8, uzip_hi(lo, hi))
        j += 8
    for j in range(j, nc):
        a, b, c, e = _philox_masked(np.uint64(start + j), c1, c2, c3, k0, k1)
        buf[2 * j] = (a << _S32) | b
        buf[2 * j + 1] = (c << _S32) | e


@njit(inline="always")
def _zig_candidate(r):
    """(x, fails) for one word r: numpy's random_standard_normal fast path (layer idx = low 8
    bits, then a sign bit, then a 52-bit rabs; x = ±rabs·wi[idx]; fails: rabs ≥ ki[idx])."""
    idx = r & np.uint64(0xFF)
    r >>= np.uint64(8)
    sign = r & np.uint64(1)
    rabs = (r >> np.uint64(1)) & _ZMANT
    # ·(±1.0) is exact; rabs < 2⁵², so the int64 route converts exactly (one instruction)
    x = (np.float64(np.int64(rabs)) * _WI[idx]) * (1.0 - 2.0 * np.float64(np.int64(sign)))
    return x, rabs >= _KI[idx]


@njit(inline="always")
def _zig_candidates_x8(w, cand, j):
    """``_zig_candidate`` of the eight words w (a ``uint64x8``) into cand[j:j + 8]; returns
    their failure bits (bit t for lane t). The sign is a flip of the sign bit, the same value
    as the scalar ·(±1.0)."""
    idx = uand(w, usplat8(0xFF))
    r = ushr(w, 8)
    rabs = uand(ushr(r, 1), usplat8(_ZMANT))
    vstore(cand, j, flip_sign(vmul(exact_float64x8(rabs), gather8(_WI, idx)), r))
    return ge_bits(rabs, gather8(_KI, idx))


@njit_noalloc
def _zig_candidates(words, cand):
    """cand[j] <- the ziggurat candidate x of words[j] (``_zig_candidate``); returns the mask of
    the words that fail the fast test (bit j; size <= 64). One branch-free pass, eight words at
    a time (``_zig_candidates_x8``), instead of a test per word in the sequential loop."""
    mask = np.uint64(0)
    m = words.size
    j = 0
    while j + 8 <= m:
        mask |= _zig_candidates_x8(vload8(words, j), cand, j) << np.uint64(j)
        j += 8
    for j in range(j, m):
        x, fails = _zig_candidate(words[j])
        cand[j] = x
        mask |= np.uint64(1 if fails else 0) << np.uint64(j)
    return mask


@njit_noalloc(inline="always")
def _zig_block(words, cand, ctr, k0, k1, c1, c2, c3):
    """``_zig_fill``'s refill: words <- the stream's next 64 words from counter ctr, cand <-
    their candidates; returns (the mask of fast-test failures, the next counter)."""
    _refill(words, ctr, k0, k1, c1, c2, c3)
    return _zig_candidates(words, cand), ctr + words.size // 2


@njit_noalloc
def _keep_store(out, i, cand, keep, tmp):
    """out[i:] <- the candidates cand[t] of the set bits t of keep, in order, at most
    out.size − i of them (``simd.compress_store8``, eight at a time); returns how many were
    stored. A block that may not fit is compressed into tmp (64 floats) and copied."""
    m = out.size
    direct = m - i >= 64
    dst = out if direct else tmp
    o = i if direct else 0
    for q in range(0, 64, 8):
        k8 = (keep >> np.uint64(q)) & np.uint64(0xFF)
        compress_store8(dst, o, vload8(cand, q), k8)
        o += popcount(k8)
    if direct:
        return o - i
    n = min(o, m - i)
    for t in range(n):
        out[i + t] = tmp[t]
    return n


@njit_noalloc
def _zig_fill(out, k0, k1, c1, c2, c3, buf):
    """out[:] <- normals of the sequential ziggurat stream of counter words (·, c1, c2, c3).

    The stream is numpy's: each 64-bit word in turn is a candidate, and a candidate that fails
    the fast test (~1.4%) takes the next words as uniforms (and a new candidate) before the
    following normal starts. Here a refill's 64 words are resolved at once: their candidates
    and the mask of their failures in one vectorised pass (``_zig_candidates``); each failure
    of a wedge layer takes the next word as its uniform (``keep`` loses that word, and keeps
    the failing one if the wedge test accepts it); the kept candidates are compressed into
    ``out`` (``_keep_store``). Only a failure whose steps need words past the block (a wedge at
    its last word, or the tail layer idx = 0) walks numpy's slow path word by word, after the
    block's earlier words are stored: the same numbers from the same words. ``buf``:
    ``ZIG_WORK`` uint64 words of work space."""
    nb = _ZBUF
    if buf.size < ZIG_WORK:
        raise ValueError("_zig_fill: buf needs ZIG_WORK words")
    words = buf[:nb]
    cand = buf[nb:2 * nb].view(np.float64)
    tmp = buf[2 * nb:3 * nb].view(np.float64)
    ctr = 0
    pos = nb
    mask = np.uint64(0)
    i = 0
    m = out.size
    while i < m:
        if pos >= nb:
            mask, ctr = _zig_block(words, cand, ctr, k0, k1, c1, c2, c3)
            pos = 0
        keep = _ALL << np.uint64(pos)
        g = mask & keep
        stop = nb
        while g != 0:
            p = np.int64(trailing_zeros(g))
            r = words[p]
            idx = r & np.uint64(0xFF)
            if idx == 0 or p + 1 >= nb:
                stop = p
                break
            two = np.uint64(3) << np.uint64(p)          # the candidate p and its uniform p + 1
            keep &= ~two
            g &= ~two
            u = np.float64(words[p + 1] >> _S11) * _INV53
            x = cand[p]
            if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < math.exp(-0.5 * x * x):
                keep |= np.uint64(1) << np.uint64(p)
        if stop < nb:
            keep &= ~(_ALL << np.uint64(stop))
        i += _keep_store(out, i, cand, keep, tmp)
        pos = stop
        if stop >= nb or i >= m:
            continue
        # words[pos] fails the fast test and its steps need words past this block
        r = words[pos]
        x = cand[pos]
        pos += 1
        idx = r & np.uint64(0xFF)
        rabs = (r >> np.uint64(9)) & _ZMANT
        if idx == 0:
            while True:
                if pos >= nb:
                    mask, ctr = _zig_block(words, cand, ctr, k0, k1, c1, c2, c3)
                    pos = 0
                u1 = np.float64(words[pos] >> _S11) * _INV53
                pos += 1
                if pos >= nb:
                    mask, ctr = _zig_block(words, cand, ctr, k0, k1, c1, c2, c3)
                    pos = 0
                u2 = np.float64(words[pos] >> _S11) * _INV53
                pos += 1
                xx = -_ZIG_INV_R * math.log1p(-u1)
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    out[i] = -(_ZIG_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _ZIG_R + xx
                    i += 1
                    break
        else:
            # a wedge stops the block only at its last word (stop = nb − 1): its uniform is the
            # next refill's first word
            mask, ctr = _zig_block(words, cand, ctr, k0, k1, c1, c2, c3)
            u = np.float64(words[0] >> _S11) * _INV53
            pos = 1
            if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < math.exp(-0.5 * x * x):
                out[i] = x
                i += 1


@njit_noalloc(cache=True)
def _bm_fill(out, k0, k1, c1, c2, c3):
    """out[t] <- the t-th Box–Muller normal of (·, c1, c2, c3): counter t//2, member t%2."""
    m = out.size
    for j in range((m + 1) // 2):
        a, b, c, e = _philox_cpu(np.uint64(j), c1, c2, c3, k0, k1)
        z0, z1 = _box_muller_cpu(a, b, c, e)
        out[2 * j] = z0
        if 2 * j + 1 < m:
            out[2 * j + 1] = z1


@njit_noalloc
def _fill_normals(out, method, k0, k1, c1, c2, c3, buf):
    """method 0: ziggurat, 1: Box–Muller."""
    if method == 0:
        _zig_fill(out, k0, k1, c1, c2, c3, buf)
    else:
        _bm_fill(out, k0, k1, c1, c2, c3)


def _make_fill_normals_entry(fingerprint):
    """``_fill_normals`` as a cached entry whose cache key holds ``fingerprint`` (module
    docstring)."""
    @njit_noalloc(cache=True)
    def fill_normals_entry(out, method, k0, k1, c1, c2, c3, buf):
        if fingerprint < 0:                 # never: the closure only keys numba's disk cache
            return
        _fill_normals(out, method, k0, k1, c1, c2, c3, buf)
    return fill_normals_entry


_fill_normals_entry = _make_fill_normals_entry(source_fingerprint(_simd, _jit))

METHODS = {"ziggurat": 0, "box_muller": 1}


def philox_key(rng: np.random.Generator) -> tuple[int, int]:
    """A 64-bit Philox key (two 32-bit words) drawn from ``rng``."""
    k = rng.integers(0, 2**32, size=2, dtype=np.uint64)
    return int(k[0]), int(k[1])


def key_from_root(root) -> tuple[int, int]:
    """A Philox key from a chain driver's root entropy (``depthcheck.kernels.chain.driver``: two 63-bit ints):
    the state of SeedSequence(root, spawn_key=(2**31,)), disjoint from the layer streams."""
    k = np.random.SeedSequence(root, spawn_key=(2**31,)).generate_state(2, dtype=np.uint32)
    return int(k[0]), int(k[1])


def _u64(v) -> np.uint64:
    v = int(v)
    if not 0 <= v < 2**32:
        raise ValueError(f"Philox words must lie in [0, 2^32), got {v}")
    return np.uint64(v)


def normal_stream(key, layer: int, trial: int, stream: int, size: int,
                  method: str = "ziggurat") -> np.ndarray:
    """The first ``size`` normals of stream (layer, trial, stream) under ``key``, exactly as the
    fused kernels draw them (``method`` "ziggurat" or "box_muller")."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {tuple(METHODS)}")
    out = np.empty(int(size))
    buf = np.empty(ZIG_WORK, dtype=np.uint64)
    _fill_normals_entry(out, METHODS[method], _u64(key[0]), _u64(key[1]), _u64(layer),
                        _u64(trial), _u64(stream), buf)
    return out


#: stream word of the readout's normals: counter (index, layer 0, trial b, READOUT_STREAM); hidden
#: layers use (index, l >= 1, b, 0), so the two never overlap
READOUT_STREAM = 1


def readout_philox(key, trials: int, n_out: int, d: int, method: str = "ziggurat") -> np.ndarray:
    """The fused kernels' readouts W_out, shape ``(trials, n_out, d)``, orthonormal rows.

    Trial b: the first d·n_out normals of stream (layer 0, trial b, ``READOUT_STREAM``) filled
    row-major into Z (d×n_out); W_out = (Q·diag(sign diag R))ᵀ for the reduced QR Z = QR, a
    uniform frame of the Stiefel manifold V_{n_out}(R^d) (as ``depthcheck.kernels.random.haar.sample_stiefel``,
    the law of the numpy chain's readout, seed 001 Fig. 3's semi-orthogonal readout). Computed on
    the host and shared by the numba and CUDA gradient kernels, so both see the same W_out.
    """
    from depthcheck.kernels.random.haar import _sign_fixed_qr
    if not (1 <= int(n_out) <= int(d)):
        raise ValueError(f"n_out must lie in [1, d], got n_out={n_out}, d={d}")
    Z = np.stack([normal_stream(key, 0, b, READOUT_STREAM, int(d) * int(n_out), method)
                  .reshape(int(d), int(n_out)) for b in range(int(trials))])
    return np.ascontiguousarray(np.swapaxes(_sign_fixed_qr(Z), -1, -2))


def box_muller_normals(key, layer: int, trial: int, stream: int, size: int) -> np.ndarray:
    """Vectorised numpy evaluation of the Box–Muller stream (independent of the numba code, for
    tests): the same numbers as ``normal_stream(..., method="box_muller")`` up to libm ulps."""
    j = np.arange((int(size) + 1) // 2, dtype=np.uint64)
    full = lambda v: np.full(j.shape, _u64(v), dtype=np.uint64)
    a, b, c, e = philox4x32_10(j, full(layer), full(trial), full(stream), _u64(key[0]),
                               _u64(key[1]))
    u1 = ((a >> _S5).astype(np.float64) * _TWO26 + (b >> _S6).astype(np.float64) + 0.5) * _INV53
    u2 = ((c >> _S5).astype(np.float64) * _TWO26 + (e >> _S6).astype(np.float64)) * _INV53
    rad = np.sqrt(-2.0 * np.log(u1))
    z = np.empty(2 * j.size)
    z[0::2] = rad * np.cos(_TWO_PI * u2)
    z[1::2] = rad * np.sin(_TWO_PI * u2)
    return z[:int(size)]


def ziggurat_normals(key, layer: int, trial: int, stream: int, size: int) -> np.ndarray:
    """The ziggurat stream of (layer, trial, stream) (see ``normal_stream``)."""
    return normal_stream(key, layer, trial, stream, size, method="ziggurat")
