"""Four-lane float64 vectors for register-tiled numba kernels.

numba runs LLVM without its SLP vectoriser (``NUMBA_SLP_VECTORIZE`` is off by default, and a
library must not flip a process-wide setting), and LLVM's loop vectoriser only vectorises an
innermost loop: a tile of accumulators that lives across a loop over rows (the Householder
kernels of ``depthcheck.kernels.backends.numba.wy``) then goes through memory on every row.
``float64x4`` is an LLVM ``<4 x double>`` value that numba code can hold in a local variable
(so in a register), with loads and stores at an element index of a C-contiguous float64 array
and the lane-wise ``+ − ×`` as separate instructions: a multiply and an add are never fused,
so each lane computes exactly what the same scalar expression computes (same rounding).

No bounds checks: the caller guarantees that ``idx .. idx + 3`` lie in the array.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, models, register_model

__all__ = ["float64x4", "vload", "vstore", "vsplat", "vlane", "vadd", "vsub", "vmul",
           "sumsq4", "sumsq4_rows", "scaled_copy_sumsq4"]


class Float64x4(types.Type):
    """numba type of four float64 lanes (LLVM ``<4 x double>``)."""

    def __init__(self):
        super().__init__(name="float64x4")


float64x4 = Float64x4()
_V = ir.VectorType(ir.DoubleType(), 4)


@register_model(Float64x4)
class _Float64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V)


def _is_c_float64(arr) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.float64 and arr.layout == "C"


def _lane_pointer(context, builder, arrty, arr, idx):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), _V.as_pointer())


@intrinsic
def vload(typingctx, arr, idx):
    """The lanes ``arr.flat[idx:idx + 4]`` of a C-contiguous float64 array."""
    if not (_is_c_float64(arr) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        return builder.load(_lane_pointer(context, builder, sig.args[0], args[0], i), align=8)
    return float64x4(arr, idx), codegen


@intrinsic
def vstore(typingctx, arr, idx, v):
    """``arr.flat[idx:idx + 4] = v`` for a C-contiguous float64 array."""
    if not (_is_c_float64(arr) and isinstance(idx, types.Integer) and v == float64x4):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(args[2], _lane_pointer(context, builder, sig.args[0], args[0], i), align=8)
        return context.get_dummy_value()
    return types.void(arr, idx, v), codegen


@intrinsic
def vsplat(typingctx, x):
    """Four lanes equal to the float ``x``."""
    if not isinstance(x, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        s = context.cast(builder, args[0], sig.args[0], types.float64)
        v = builder.insert_element(ir.Constant(_V, ir.Undefined), s, ir.Constant(ir.IntType(32), 0))
        zero4 = ir.Constant(ir.VectorType(ir.IntType(32), 4), [0, 0, 0, 0])
        return builder.shuffle_vector(v, ir.Constant(_V, ir.Undefined), zero4)
    return float64x4(x), codegen


@intrinsic
def vlane(typingctx, v, j):
    """Lane j (0 .. 3) of v, a float."""
    if v != float64x4 or not isinstance(j, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.int32)
        return builder.extract_element(args[0], i)
    return types.float64(v, j), codegen


def _lanewise(instruction: str, doc: str):
    @intrinsic
    def op(typingctx, a, b):
        if a != float64x4 or b != float64x4:
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, instruction)(args[0], args[1])
        return float64x4(a, b), codegen
    op.__doc__ = doc
    return op


vadd = _lanewise("fadd", "Lane-wise a + b.")
vsub = _lanewise("fsub", "Lane-wise a − b.")
vmul = _lanewise("fmul", "Lane-wise a × b.")


# ---------------------------------------------------------------------------- reductions
# Σ x² in four interleaved partial sums (s_j over the elements j, j + 4, ...; a tail of
# L mod 4 elements added to s_0 in order; result (s_0 + s_1) + (s_2 + s_3)): one running sum
# is bound by the add latency. The partial sums are the lanes of one vector, so the values are
# those of the same sums written with four scalars.
@njit
def sumsq4(x, o, L):
    """Σ x[o + t]², t < L, in four partial sums (section comment); x C-contiguous, 1-d."""
    L4 = L - L % 4
    acc = vsplat(0.0)
    for t in range(0, L4, 4):
        v = vload(x, o + t)
        acc = vadd(acc, vmul(v, v))
    return _finish4(acc, x, o + L4, L - L4)


@njit(inline="always")
def _finish4(acc, x, o, r):
    """The sum of the partial sums in acc and the tail x[o:o + r] (section comment)."""
    s0 = vlane(acc, 0)
    for t in range(r):
        v0 = x[o + t]
        s0 += v0 * v0
    return (s0 + vlane(acc, 1)) + (vlane(acc, 2) + vlane(acc, 3))


@njit
def sumsq4_rows(A, n, out):
    """out[i] <- ``sumsq4(A[i], 0, n)`` for a C-contiguous 2-d A (n <= its columns), four rows
    at a time: their four independent sums hide the add latency that bounds one row's loop."""
    d, m = A.shape
    Af = A.reshape(d * m)
    n4 = n - n % 4
    d4 = d - d % 4
    for i in range(0, d4, 4):
        o = i * m
        a0 = a1 = a2 = a3 = vsplat(0.0)
        for t in range(0, n4, 4):
            v = vload(Af, o + t)
            a0 = vadd(a0, vmul(v, v))
            v = vload(Af, o + m + t)
            a1 = vadd(a1, vmul(v, v))
            v = vload(Af, o + 2 * m + t)
            a2 = vadd(a2, vmul(v, v))
            v = vload(Af, o + 3 * m + t)
            a3 = vadd(a3, vmul(v, v))
        out[i] = _finish4(a0, Af, o + n4, n - n4)
        out[i + 1] = _finish4(a1, Af, o + m + n4, n - n4)
        out[i + 2] = _finish4(a2, Af, o + 2 * m + n4, n - n4)
        out[i + 3] = _finish4(a3, Af, o + 3 * m + n4, n - n4)
    for i in range(d4, d):
        out[i] = sumsq4(A[i], 0, n)


@njit
def scaled_copy_sumsq4(a, h, f):
    """h <- a[:h.size]·f for C-contiguous 1-d arrays; returns Σ h² in four partial sums (section
    comment). f = 1.0 copies a exactly. Unchecked (as ``vload``): the caller guarantees that a
    is at least as long as h (a raise here cost ~5 % of a d = 32 chain layer)."""
    m = h.size
    m4 = m - m % 4
    acc = vsplat(0.0)
    sf = vsplat(f)
    for t in range(0, m4, 4):
        v = vmul(vload(a, t), sf)
        vstore(h, t, v)
        acc = vadd(acc, vmul(v, v))
    s0 = vlane(acc, 0)
    for t in range(m4, m):
        v0 = a[t] * f
        h[t] = v0
        s0 += v0 * v0
    return (s0 + vlane(acc, 1)) + (vlane(acc, 2) + vlane(acc, 3))
