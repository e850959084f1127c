"""Four- and eight-lane float64 vectors (and eight-lane uint64 ones) for register-tiled numba kernels.

numba runs LLVM without its SLP vectoriser (``NUMBA_SLP_VECTORIZE`` is off by default, and a
library must not flip a process-wide setting), and LLVM's loop vectoriser only vectorises an
innermost loop: a tile of accumulators that lives across a loop over rows (the Householder
kernels of ``depthcheck.kernels.backends.numba.wy``) then goes through memory on every row.
``float64x4`` (``float64x8``) is an LLVM ``<4 x double>`` (``<8 x double>``) value that numba
code can hold in a local variable (so in a register), with loads and stores at an element index
of a C-contiguous float64 array, the lane-wise ``+ − ×`` as separate instructions (``vmul``
then ``vadd`` is never fused into one) and ``vfma``, an explicit fused multiply-add with one
rounding (``llvm.fma``; ``fma`` is its scalar form): each lane computes exactly what the same
scalar expression computes (same rounding), whatever the lane count and the CPU.

Eight lanes are one AVX-512 register (``HAS_AVX512``); on a CPU without AVX-512 LLVM splits
them into two four-lane halves, with the same values. ``vadd``, ``vsub``, ``vmul``, ``vfma``
and ``vlane`` take either type; loads and splats name their width (``vload``/``vload8``,
``vsplat``/``vsplat8``).

``uint64x8`` (LLVM ``<8 x i64>``; ``vload8``, ``vstore`` and ``vlane`` take it with uint64
arrays) carries the integer work of the random-number kernels
(``depthcheck.kernels.random.philox``): Philox rounds eight counters at a time in one AVX-512
register, table lookups by ``gather8``, and the ziggurat's float candidates. LLVM's loop
vectoriser gave that code four 64-bit lanes on an AVX-512 CPU (its cost model prefers 256-bit
vectors there) and a masked 32-bit product per round; eight explicit lanes ran the Philox words
1.7x faster on the AVX-512 Xeon of ``validation/bench/RESULTS.md``. Integer lanes are exact,
so there is nothing to keep equal but the operations themselves.

No bounds checks: the caller guarantees that ``idx .. idx + lanes − 1`` lie in the array.
"""
from __future__ import annotations

import llvmlite.binding as _llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, models, register_model

from depthcheck.kernels.backends.numba._jit import njit_noalloc

__all__ = ["float64x4", "float64x8", "HAS_AVX512", "HAS_FMA", "vload", "vload8", "vstore",
           "vsplat", "vsplat8", "vlane", "vadd", "vsub", "vmul", "vfma", "fma", "zeros_aligned",
           "sumsq4", "sumsq4_rows", "scaled_copy_sumsq4",
           "scaled_copy_sumsq4_rows",
           "uint64x8", "usplat8", "uiota8", "uand", "uor", "uxor",
           "umul32", "ushr", "ushl", "uzip_lo", "uzip_hi", "gather8", "exact_float64x8",
           "flip_sign", "ge_bits", "compress_store8", "popcount"]


def _target_features() -> str | None:
    """numba's compilation target's LLVM features: the host CPU's, or those set by
    ``NUMBA_CPU_FEATURES``; None for another ``NUMBA_CPU_NAME`` (a portable target, whose
    features this module does not guess)."""
    from numba.core import config
    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    if config.CPU_NAME not in (None, "host"):
        return None
    return _llvm.get_host_cpu_features().flatten()


def _target_has_avx512() -> bool:
    """Whether numba's compilation target has AVX-512F (``_target_features``; False for a
    named portable CPU)."""
    features = _target_features()
    return features is not None and "+avx512f" in features.split(",")


def _target_has_fma() -> bool:
    """Whether numba's compilation target has fused multiply-add instructions: x86 with FMA3
    (``_target_features``; False for a named portable CPU), and every 64-bit ARM CPU."""
    if _llvm.get_process_triple().startswith(("aarch64", "arm64")):
        return True
    features = _target_features()
    return features is not None and "+fma" in features.split(",")


#: Whether numba's target has AVX-512F (``_target_has_avx512``): the register-tiled kernels
#: then use eight-lane tiles by default (``depthcheck.kernels.backends.numba.wy._pairs``),
#: whose inner loop ran 1.45x faster than four-lane tiles on an AVX-512 Xeon.
HAS_AVX512 = _target_has_avx512()

#: Whether numba's target executes ``vfma`` / ``fma`` as instructions (``_target_has_fma``).
#: Without them LLVM computes ``llvm.fma`` in software (the same values, ~10x slower kernels:
#: the d = 50 Fig. 1 chain took 151 instead of 14 µs a layer for ``NUMBA_CPU_NAME=generic``),
#: so ``wy.pair_apply_wins`` then leaves the Haar layers to BLAS.
HAS_FMA = _target_has_fma()


class _Float64Vector(types.Type):
    """numba type of ``lanes`` float64 lanes (LLVM ``<lanes x double>``)."""

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__(name=f"float64x{lanes}")


float64x4 = _Float64Vector(4)
float64x8 = _Float64Vector(8)
_IR = {4: ir.VectorType(ir.DoubleType(), 4), 8: ir.VectorType(ir.DoubleType(), 8)}


@register_model(_Float64Vector)
class _Float64VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _IR[fe_type.lanes])


class _UInt64Vector(types.Type):
    """numba type of eight uint64 lanes (LLVM ``<8 x i64>``)."""
    lanes = 8

    def __init__(self):
        super().__init__(name="uint64x8")


uint64x8 = _UInt64Vector()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_U8 = ir.VectorType(_I64, 8)
_I32x8 = ir.VectorType(_I32, 8)


@register_model(_UInt64Vector)
class _UInt64VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _U8)


def _is_u8(v) -> bool:
    return isinstance(v, _UInt64Vector)


def _is_vector(v) -> bool:
    return isinstance(v, _Float64Vector)


def _is_c_float64(arr) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.float64 and arr.layout == "C"


def _vector_type(arr, lanes: int):
    """The vector type of ``lanes`` elements of a C-contiguous array: ``float64x4`` /
    ``float64x8`` for float64, ``uint64x8`` for uint64 (eight lanes only); None otherwise."""
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None
    if arr.dtype == types.float64:
        return {4: float64x4, 8: float64x8}.get(lanes)
    if arr.dtype == types.uint64 and lanes == 8:
        return uint64x8
    return None


def _ir_type(vt):
    return _U8 if _is_u8(vt) else _IR[vt.lanes]


def _lane_pointer(context, builder, arrty, arr, idx, vt):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), _ir_type(vt).as_pointer())


def _make_load(lanes: int):
    @intrinsic
    def load(typingctx, arr, idx):
        vt = _vector_type(arr, lanes)
        if vt is None or not isinstance(idx, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            i = context.cast(builder, args[1], sig.args[1], types.intp)
            return builder.load(_lane_pointer(context, builder, sig.args[0], args[0], i, vt),
                                align=8)
        return vt(arr, idx), codegen
    kinds = "float64 array" + (" (``float64x8``) or uint64 array (``uint64x8``)"
                               if lanes == 8 else "")
    load.__doc__ = f"The lanes ``arr.flat[idx:idx + {lanes}]`` of a C-contiguous {kinds}."
    return load


def _make_splat(vt):
    @intrinsic
    def splat(typingctx, x):
        if not isinstance(x, (types.Float, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            s = context.cast(builder, args[0], sig.args[0], types.float64)
            v_ir = _IR[vt.lanes]
            v = builder.insert_element(ir.Constant(v_ir, ir.Undefined), s,
                                       ir.Constant(ir.IntType(32), 0))
            zeros = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
            return builder.shuffle_vector(v, ir.Constant(v_ir, ir.Undefined), zeros)
        return vt(x), codegen
    splat.__doc__ = f"{vt.lanes} lanes equal to the float ``x``."
    return splat


vload = _make_load(4)
vload8 = _make_load(8)
vsplat = _make_splat(float64x4)
vsplat8 = _make_splat(float64x8)


@intrinsic
def vstore(typingctx, arr, idx, v):
    """``arr.flat[idx:idx + lanes] = v`` for a C-contiguous array of v's element type (float64
    for either float width, uint64 for ``uint64x8``)."""
    if not ((_is_vector(v) or _is_u8(v)) and isinstance(idx, types.Integer)
            and _vector_type(arr, v.lanes) == v):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(args[2], _lane_pointer(context, builder, sig.args[0], args[0], i,
                                             sig.args[2]), align=8)
        return context.get_dummy_value()
    return types.void(arr, idx, v), codegen


@intrinsic
def vlane(typingctx, v, j):
    """Lane j (0 .. lanes − 1) of v: a float of a float vector, a uint64 of a ``uint64x8``."""
    if not (_is_vector(v) or _is_u8(v)) or not isinstance(j, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.int32)
        return builder.extract_element(args[0], i)
    return (types.uint64 if _is_u8(v) else types.float64)(v, j), codegen


def _lanewise(instruction: str, doc: str):
    @intrinsic
    def op(typingctx, a, b):
        if not _is_vector(a) or a != b:
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, instruction)(args[0], args[1])
        return a(a, b), codegen
    op.__doc__ = doc
    return op


vadd = _lanewise("fadd", "Lane-wise a + b (two vectors of one width).")
vsub = _lanewise("fsub", "Lane-wise a − b (two vectors of one width).")
vmul = _lanewise("fmul", "Lane-wise a × b (two vectors of one width).")


def _fma_call(builder, a, b, c):
    """``llvm.fma`` on one double or a vector of them: a·b + c with a single rounding, the
    same value on every target (software-emulated where the target has no FMA instruction)."""
    ty = a.type
    name = f"llvm.fma.v{ty.count}f64" if isinstance(ty, ir.VectorType) else "llvm.fma.f64"
    fn = builder.module.globals.get(name)
    if fn is None:
        fn = ir.Function(builder.module, ir.FunctionType(ty, [ty, ty, ty]), name=name)
    return builder.call(fn, [a, b, c])


@intrinsic
def vfma(typingctx, a, b, c):
    """Lane-wise a × b + c rounded once (a fused multiply-add; three vectors of one width):
    each lane is ``fma(a, b, c)`` of its scalars."""
    if not _is_vector(a) or a != b or a != c:
        return None

    def codegen(context, builder, sig, args):
        return _fma_call(builder, *args)
    return a(a, b, c), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a × b + c rounded once for float64 scalars (the scalar form of ``vfma``; Python's
    ``math.fma`` arrived only in 3.13)."""
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None

    def codegen(context, builder, sig, args):
        xs = [context.cast(builder, v, t, types.float64) for v, t in zip(args, sig.args)]
        return _fma_call(builder, *xs)
    return types.float64(a, b, c), codegen


@njit
def zeros_aligned(rows, cols):
    """A C-contiguous float64 (rows, cols) array of zeros starting on a 64-byte boundary (numba
    allocates on 32): with cols a multiple of 8 every row is one, and no eight-lane load splits
    across two cache lines (on an AVX-512 Xeon such split loads made the d = 200 Fig. 1 chain
    1.33x slower in the trials whose buffers happened to start off the boundary)."""
    buf = np.zeros(rows * cols + 7)
    off = ((-buf.ctypes.data) % 64) // 8
    return buf[off:off + rows * cols].reshape(rows, cols)


# ---------------------------------------------------------------------------- uint64 lanes
def _u8_splat_ir(builder, s):
    v = builder.insert_element(ir.Constant(_U8, ir.Undefined), s, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, ir.Constant(_U8, ir.Undefined), ir.Constant(_I32x8, [0] * 8))


@intrinsic
def usplat8(typingctx, x):
    """Eight uint64 lanes equal to the integer ``x`` (taken modulo 2⁶⁴)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return _u8_splat_ir(builder, context.cast(builder, args[0], sig.args[0], types.uint64))
    return uint64x8(x), codegen


@intrinsic
def uiota8(typingctx, x):
    """The lanes x, x + 1, ..., x + 7 (modulo 2⁶⁴)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = _u8_splat_ir(builder, context.cast(builder, args[0], sig.args[0], types.uint64))
        return builder.add(v, ir.Constant(_U8, list(range(8))))
    return uint64x8(x), codegen


def _u8_binary(build, doc: str):
    @intrinsic
    def op(typingctx, a, b):
        if not (_is_u8(a) and _is_u8(b)):
            return None

        def codegen(context, builder, sig, args):
            return build(builder, args[0], args[1])
        return uint64x8(a, b), codegen
    op.__doc__ = doc
    return op


_LOW32 = ir.Constant(_U8, [0xFFFFFFFF] * 8)
uand = _u8_binary(lambda b, x, y: b.and_(x, y), "Lane-wise a & b.")
uor = _u8_binary(lambda b, x, y: b.or_(x, y), "Lane-wise a | b.")
uxor = _u8_binary(lambda b, x, y: b.xor(x, y), "Lane-wise a ^ b.")
umul32 = _u8_binary(lambda b, x, y: b.mul(b.and_(x, _LOW32), b.and_(y, _LOW32)),
                    "Lane-wise (a mod 2³²)·(b mod 2³²), the whole 64-bit product (one "
                    "``vpmuludq``: the high halves of the lanes are ignored, not assumed zero).")
uzip_lo = _u8_binary(lambda b, x, y: b.shuffle_vector(
    x, y, ir.Constant(_I32x8, [0, 8, 1, 9, 2, 10, 3, 11])),
    "The lanes a₀, b₀, a₁, b₁, a₂, b₂, a₃, b₃ (the first half of a and b interleaved).")
uzip_hi = _u8_binary(lambda b, x, y: b.shuffle_vector(
    x, y, ir.Constant(_I32x8, [4, 12, 5, 13, 6, 14, 7, 15])),
    "The lanes a₄, b₄, ..., a₇, b₇ (the second half of a and b interleaved).")


def _u8_shift(instruction: str, doc: str):
    @intrinsic
    def op(typingctx, a, k):
        if not (_is_u8(a) and isinstance(k, types.IntegerLiteral)
                and 0 <= k.literal_value < 64):
            return None
        count = k.literal_value

        def codegen(context, builder, sig, args):
            return getattr(builder, instruction)(args[0], ir.Constant(_U8, [count] * 8))
        return uint64x8(a, k), codegen
    op.__doc__ = doc
    return op


ushr = _u8_shift("lshr", "Lane-wise a >> k (logical) for a literal k in [0, 64).")
ushl = _u8_shift("shl", "Lane-wise a << k (modulo 2⁶⁴) for a literal k in [0, 64).")


@intrinsic
def gather8(typingctx, table, idx):
    """The lanes ``table[idx[0]], ..., table[idx[7]]`` of a C-contiguous 1-d float64 or uint64
    array (``float64x8`` or ``uint64x8``), by ``llvm.masked.gather`` (one ``vgatherqpd`` /
    ``vpgatherqq`` with AVX-512). Unchecked: every index must lie in the table."""
    if not (isinstance(table, types.Array) and table.ndim == 1 and table.layout == "C"
            and table.dtype in (types.float64, types.uint64) and _is_u8(idx)):
        return None
    is_float = table.dtype == types.float64
    vt_ir = _IR[8] if is_float else _U8

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        base = _u8_splat_ir(builder, builder.ptrtoint(data, _I64))
        addr = builder.add(base, builder.shl(args[1], ir.Constant(_U8, [3] * 8)))
        ptr_v = ir.VectorType(ir.PointerType(), 8)
        ptrs = builder.inttoptr(addr, ptr_v)
        name = f"llvm.masked.gather.{'v8f64' if is_float else 'v8i64'}.v8p0"
        fn = builder.module.globals.get(name)
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(
                vt_ir, [ptr_v, _I32, ir.VectorType(ir.IntType(1), 8), vt_ir]), name=name)
        return builder.call(fn, [ptrs, ir.Constant(_I32, 8),
                                 ir.Constant(ir.VectorType(ir.IntType(1), 8), [1] * 8),
                                 ir.Constant(vt_ir, ir.Undefined)])
    return (float64x8 if is_float else uint64x8)(table, idx), codegen


#: numba's target converts 64-bit integer lanes in one instruction (AVX-512DQ's ``vcvtqq2pd``)
_HAS_AVX512DQ = _target_has_avx512() and "+avx512dq" in (_target_features() or "").split(",")


@intrinsic
def exact_float64x8(typingctx, v):
    """The lanes of v as float64, exactly, for lanes below 2⁵² (the caller's guarantee). With
    AVX-512DQ one ``vcvtqq2pd``; elsewhere, where LLVM would emulate that conversion (the
    ziggurat candidates took 1.29 instead of 0.92 ns a word on AVX2), the bits of 2⁵² + v as a
    double (v fills the mantissa) minus 2⁵²: both steps exact, so the same values."""
    if not _is_u8(v):
        return None

    def codegen(context, builder, sig, args):
        if _HAS_AVX512DQ:
            return builder.sitofp(args[0], _IR[8])
        two52 = ir.Constant(_U8, [0x4330000000000000] * 8)
        biased = builder.bitcast(builder.or_(args[0], two52), _IR[8])
        return builder.fsub(biased, ir.Constant(_IR[8], [4503599627370496.0] * 8))
    return float64x8(v), codegen


@intrinsic
def flip_sign(typingctx, x, s):
    """x (``float64x8``) with each lane's sign bit flipped where the low bit of the lane of s
    (``uint64x8``) is 1: exactly x·(1 − 2·(s mod 2)), zeros and all."""
    if not (isinstance(x, _Float64Vector) and x.lanes == 8 and _is_u8(s)):
        return None

    def codegen(context, builder, sig, args):
        bits = builder.bitcast(args[0], _U8)
        sign = builder.shl(args[1], ir.Constant(_U8, [63] * 8))
        return builder.bitcast(builder.xor(bits, sign), _IR[8])
    return float64x8(x, s), codegen


@intrinsic
def ge_bits(typingctx, a, b):
    """The mask of the lanes where a ≥ b (unsigned), bit j for lane j, as a uint64 < 2⁸."""
    if not (_is_u8(a) and _is_u8(b)):
        return None

    def codegen(context, builder, sig, args):
        c = builder.icmp_unsigned(">=", args[0], args[1])
        return builder.zext(builder.bitcast(c, ir.IntType(8)), _I64)
    return types.uint64(a, b), codegen


@intrinsic
def compress_store8(typingctx, arr, idx, v, bits):
    """Store the lanes t of v (``float64x8``) whose bit t of the integer ``bits`` is set, in
    order, at ``arr.flat[idx:idx + popcount(bits & 0xFF)]`` of a C-contiguous float64 array;
    nothing else is written (``llvm.masked.compressstore``: one ``vcompresspd`` with AVX-512,
    a store per set bit elsewhere)."""
    if not (_is_c_float64(arr) and isinstance(idx, types.Integer)
            and isinstance(v, _Float64Vector) and v.lanes == 8
            and isinstance(bits, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        mask_t = ir.VectorType(ir.IntType(1), 8)
        b = context.cast(builder, args[3], sig.args[3], types.uint64)
        mask = builder.bitcast(builder.trunc(b, ir.IntType(8)), mask_t)
        name = "llvm.masked.compressstore.v8f64"
        fn = builder.module.globals.get(name)
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(
                ir.VoidType(), [_IR[8], ir.PointerType(), mask_t]), name=name)
        builder.call(fn, [args[2], builder.gep(data, [i]), mask])
        return context.get_dummy_value()
    return types.void(arr, idx, v, bits), codegen


@intrinsic
def popcount(typingctx, x):
    """The number of set bits of the integer x (as uint64), an int64 (``llvm.ctpop``)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[0], sig.args[0], types.uint64)
        fn = builder.module.globals.get("llvm.ctpop.i64")
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(_I64, [_I64]), name="llvm.ctpop.i64")
        return builder.call(fn, [v])
    return types.int64(x), codegen


# ---------------------------------------------------------------------------- reductions
# Σ x² in four interleaved partial sums (s_j over the elements j, j + 4, ...; a tail of
# L mod 4 elements added to s_0 in order; result (s_0 + s_1) + (s_2 + s_3)): one running sum
# is bound by the add latency. The partial sums are the lanes of one vector, so the values are
# those of the same sums written with four scalars.
@njit_noalloc
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


@njit_noalloc
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


@njit_noalloc
def scaled_copy_sumsq4(a, h, f):
    """h <- a[:h.size]·f for C-contiguous 1-d arrays; returns Σ h² in four partial sums (section
    comment). f = 1.0 copies a exactly. Unchecked (as ``vload``): the caller guarantees that a
    is at least as long as h (a raise here cost ~5 % of a d = 32 chain layer)."""
    return _copy_sq_finish(a, 0, h, 0, 0, h.size, f, vsplat(0.0))


@njit(inline="always")
def _copy_sq_vec(src, so, dst, do, t, sf, acc):
    """One vector of a scaled copy: dst[do + t:][:4] <- src[so + t:][:4]·sf; returns acc + v²."""
    v = vmul(vload(src, so + t), sf)
    vstore(dst, do + t, v)
    return vadd(acc, vmul(v, v))


@njit(inline="always")
def _copy_sq_finish(src, so, dst, do, t0, L, f, acc):
    """The rest of a scaled copy of L elements src[so:] -> dst[do:] whose partial sums acc hold
    its whole vectors before t0: the vectors from t0 on, the tail, the sum (section comment)."""
    L4 = L - L % 4
    sf = vsplat(f)
    for t in range(t0, L4, 4):
        acc = _copy_sq_vec(src, so, dst, do, t, sf, acc)
    s0 = vlane(acc, 0)
    for t in range(L4, L):
        v0 = src[so + t] * f
        dst[do + t] = v0
        s0 += v0 * v0
    return (s0 + vlane(acc, 1)) + (vlane(acc, 2) + vlane(acc, 3))


@njit_noalloc
def scaled_copy_sumsq4_rows(A, H, f):
    """H[i] <- A[i, :n]·f[i] and f[i] <- Σ H[i]² for every row (H C-contiguous d×n, A
    C-contiguous with n or more columns, f float64 of length d): ``scaled_copy_sumsq4`` of each
    row, the same values, four rows at a time: their whole vectors interleaved (four independent
    sums; one row's loop waits on the add latency, 4 cycles a vector: 0.35 -> 0.28 µs for the
    row scaling of the d = 32 Fig. 1 chain), then each row's tail."""
    d, n = H.shape
    m = A.shape[1]
    Af = A.reshape(A.size)
    Hf = H.reshape(H.size)
    n4 = n - n % 4
    d4 = d - d % 4
    for i in range(0, d4, 4):
        oa, oh = i * m, i * n
        f0, f1, f2, f3 = f[i], f[i + 1], f[i + 2], f[i + 3]
        s0, s1, s2, s3 = vsplat(f0), vsplat(f1), vsplat(f2), vsplat(f3)
        a0 = a1 = a2 = a3 = vsplat(0.0)
        for t in range(0, n4, 4):
            a0 = _copy_sq_vec(Af, oa, Hf, oh, t, s0, a0)
            a1 = _copy_sq_vec(Af, oa + m, Hf, oh + n, t, s1, a1)
            a2 = _copy_sq_vec(Af, oa + 2 * m, Hf, oh + 2 * n, t, s2, a2)
            a3 = _copy_sq_vec(Af, oa + 3 * m, Hf, oh + 3 * n, t, s3, a3)
        f[i] = _copy_sq_finish(Af, oa, Hf, oh, n4, n, f0, a0)
        f[i + 1] = _copy_sq_finish(Af, oa + m, Hf, oh + n, n4, n, f1, a1)
        f[i + 2] = _copy_sq_finish(Af, oa + 2 * m, Hf, oh + 2 * n, n4, n, f2, a2)
        f[i + 3] = _copy_sq_finish(Af, oa + 3 * m, Hf, oh + 3 * n, n4, n, f3, a3)
    for i in range(d4, d):
        f[i] = _copy_sq_finish(Af, i * m, Hf, i * n, 0, n, f[i], vsplat(0.0))
