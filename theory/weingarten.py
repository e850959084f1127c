"""Exact Weingarten calculus for the orthogonal group O(d) and the unitary group U(d).

Haar integrals of polynomials in the matrix entries (Collins 2003; Collins & Śniady 2006):

    E[O_{i_1 j_1} ... O_{i_2k j_2k}] = sum_{p, q in M(2k)} delta_p(i) delta_q(j) Wg^O(p, q; d)
    E[U_{i_1 j_1} ... U_{i_k j_k} conj(U_{i'_1 j'_1} ... U_{i'_k j'_k})]
        = sum_{sigma, tau in S_k} delta(i_m = i'_{sigma(m)}) delta(j_m = j'_{tau(m)})
                                  * Wg^U(tau sigma^-1; d)

M(2k) are the (2k-1)!! pairings of {0..2k-1}, delta_p(i) = 1 iff i_a = i_b for every pair {a, b}
of p, and Wg^O(p, q; d) depends only on the coset type mu ⊢ k of p ∨ q (the loops of p ∪ q have
lengths 2 mu_1, 2 mu_2, ...). The Weingarten functions are the character expansions
[CM09, M12, CS06]:

    Wg^O(mu; d) = (2^k k! / (2k)!) sum_{lambda ⊢ k, ell(lambda) <= d} f^{2 lambda} omega^lambda(mu)
                  / Z_lambda(1^d),     Z_lambda(1^d) = prod_{(i,j) in lambda} (d + 2j - i - 1)
    Wg^U(rho; d) = (1 / k!^2) sum_{lambda ⊢ k, ell(lambda) <= d} (f^lambda)^2 chi^lambda(rho)
                  / s_lambda(1^d),    s_lambda(1^d) = prod_{(i,j) in lambda} (d + j - i) / H_lambda

(cells (i, j) 1-based row/column; f^lambda = chi^lambda(e); omega^lambda the zonal spherical
functions of the Gelfand pair (S_2k, H_k); H_lambda the hook product). For d >= k the restriction
ell(lambda) <= d is void and Wg is the inverse of the Gram matrix G(p, q) = d^{loops(p ∨ q)}
(resp. G(sigma, tau) = d^{#cycles(sigma^-1 tau)}); for d < k G is singular and the restricted sum
is its Moore–Penrose pseudo-inverse, for which the integration formulas above still hold
[CM17].

The characters omega^lambda are read off the power-sum expansion of the zonal polynomials
(Macdonald VII.2), computed exactly by Gram–Schmidt (see ``depthcheck.theory._symmetric_group``); the
unitary characters by Murnaghan–Nakayama. Both are memoised per k.

Input of d, for every public function here:
- a Python int d >= 1: exact ``fractions.Fraction`` (restricted sum, correct also for d < k);
- a sympy expression (usually ``sympy.Symbol('d')``): the factored rational function in d. It is
  the generic formula, valid for every integer d >= k (resp. d > largest index label);
- an array-like of positive integers: float64 array of the same shape, evaluated without
  catastrophic cancellation through the reduced rational function (exact sums where d < k).

Used for Meterez et al. (ICLR 2024, arXiv:2310.02012), proof of Theorem 3: the degree-4 moments
E[O_11^4] = 3/(d(d+2)) and E[O_11^2 O_12^2] = 1/(d(d+2)), which the paper takes from the tables
of [CM09] §7 (see ``expected_mean_square_row_norm`` and ``docs/derivations/isometry_bn.md``).

Cost: the character tables grow with the partitions of k (orthogonal k = 9 takes seconds,
k = 10 over half a minute) and a Haar moment sums over every pair of compatible pairings
(permutations), (2k-1)!!^2 (k!^2) of them when all indices are equal. The Weingarten functions,
their tables and the moments estimate that cost before they start (from k and the number of
terms, counted without enumerating them) and refuse, with the estimate, a call expected to take
more than a few seconds unless ``allow_slow=True`` is passed.

The bracketed keys below are used in the docstrings of this module; BibTeX entries with the same
content are in ``docs/references.bib`` (keys ``collins2003moments``, ``collins2006integration``,
``collins2009orthogonal``, ``matsumoto2012general``, ``collins2017weingarten``,
``macdonald1995symmetric``).

References
----------
[C03]  B. Collins, Moments and cumulants of polynomial random variables on unitary groups, the
       Itzykson-Zuber integral and free probability, IMRN 2003, arXiv:math-ph/0205010.
[CS06] B. Collins, P. Śniady, Integration with respect to the Haar measure on unitary,
       orthogonal and symplectic group, Comm. Math. Phys. 264 (2006), arXiv:math-ph/0402073.
[CM09] B. Collins, S. Matsumoto, On some properties of orthogonal Weingarten functions,
       J. Math. Phys. 50 (2009), arXiv:0903.5143.
[M12]  S. Matsumoto, General moments of matrix elements from circular orthogonal ensembles,
       Random Matrices: Theory Appl. 1 (2012), arXiv:1109.2409.
[CM17] B. Collins, S. Matsumoto, Weingarten calculus via orthogonality relations: new
       applications, ALEA 14 (2017), arXiv:1701.04493.
Macdonald, Symmetric functions and Hall polynomials, 2nd ed. (1995), VI.10 and VII.2.
"""
from __future__ import annotations

import numbers
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from math import comb, factorial, prod

import numpy as np

from depthcheck.theory._symmetric_group import (character, compatible_pairings, compatible_permutations, coset_type as _coset_type_of_perm, cycle_type as _cycle_type_of_perm, dim_irrep, pairing_coset_type, partitions, zonal_spherical_function)

__all__ = [
    "weingarten_orthogonal",
    "weingarten_unitary",
    "weingarten_orthogonal_table",
    "weingarten_unitary_table",
    "weingarten_orthogonal_asymptotic",
    "weingarten_unitary_asymptotic",
    "haar_moment_orthogonal",
    "haar_moment_unitary",
    "expected_mean_square_row_norm",
    "coset_type",
    "clear_caches",
]

coset_type = _coset_type_of_perm  # re-exported: coset type of a permutation of S_2k (0-based)

_ORTHOGONAL, _UNITARY = "O", "U"


# ------------------------------------------------------------------ coefficient tables (cached)

def _shifts(lam, group) -> tuple[int, ...]:
    """c over the cells of lambda such that the denominator is prod (d + c) (0-based i, j)."""
    if group == _ORTHOGONAL:  # Z_lambda(1^d): d + 2j - i - 1 with 1-based (i, j)
        return tuple(2 * j - i for i, row in enumerate(lam) for j in range(row))
    return tuple(j - i for i, row in enumerate(lam) for j in range(row))  # contents


@lru_cache(maxsize=None)
def _orthogonal_coeffs(k: int) -> dict:
    """{mu: {lambda: a}} with Wg^O(mu; d) = sum_lambda a / prod_cells (d + 2j - i - 1)."""
    pref = Fraction(2 ** k * factorial(k), factorial(2 * k))
    out = {}
    for mu in partitions(k):
        row = {}
        for lam in partitions(k):
            a = pref * dim_irrep(tuple(2 * x for x in lam)) * zonal_spherical_function(lam, mu)
            if a:
                row[lam] = a
        out[mu] = row
    return out


@lru_cache(maxsize=None)
def _unitary_coeffs(k: int) -> dict:
    """{rho: {lambda: a}} with Wg^U(rho; d) = sum_lambda a / prod_cells (d + j - i), where
    a = (f^lambda)^2 chi^lambda(rho) H_lambda / k!^2 = f^lambda chi^lambda(rho) / k!."""
    out = {}
    for rho in partitions(k):
        row = {}
        for lam in partitions(k):
            a = Fraction(dim_irrep(lam) * character(lam, rho), factorial(k))
            if a:
                row[lam] = a
        out[rho] = row
    return out


# ------------------------------------------------------------------ evaluation of zonal sums
# A "zonal sum" is a finite map lambda -> a_lambda (all lambda ⊢ k, one group) whose value at d is
# sum_{ell(lambda) <= d} a_lambda / prod_{c in shifts(lambda)} (d + c). Every Weingarten value and
# every Haar moment here is one, so all three kinds of d go through the functions below.

def _key(coeffs: dict) -> tuple:
    return tuple(sorted(coeffs.items()))


def _value_int(key: tuple, group: str, d: int) -> Fraction:
    total = Fraction(0)
    for lam, a in key:
        if len(lam) <= d:  # ell(lambda) > d: the irrep does not occur in (R^d)^{⊗k}; drop it
            total += a / prod(d + c for c in _shifts(lam, group))
    return total


def _poly_mul_linear(p: list, c) -> list:
    """p(x) * (x + c), coefficients in increasing degree."""
    out = [0] * (len(p) + 1)
    for i, v in enumerate(p):
        out[i] += c * v
        out[i + 1] += v
    return out


def _poly_div_linear(p: list, c) -> list:
    """p(x) / (x + c) for p(-c) == 0 (synthetic division, highest degree first)."""
    n = len(p) - 1
    q = [0] * n
    carry = 0
    for i in range(n, 0, -1):
        carry = p[i] - c * carry if i < n else p[i]
        q[i - 1] = carry
    return q


def _poly_eval(p: list, x):
    acc = 0
    for v in reversed(p):
        acc = acc * x + v
    return acc


@lru_cache(maxsize=4096)
def _rational(key: tuple, group: str) -> tuple[tuple[Fraction, ...], tuple[tuple[int, int], ...]]:
    """Reduced numerator P (Fraction coefficients, increasing degree) and denominator
    prod_c (d + c)^m (as ((c, m), ...)) of the full (unrestricted) zonal sum."""
    mult: dict[int, int] = {}
    per_lam = []
    for lam, a in key:
        cnt = Counter(_shifts(lam, group))
        per_lam.append((a, cnt))
        for c, m in cnt.items():
            mult[c] = max(mult.get(c, 0), m)
    num = [Fraction(0)]
    for a, cnt in per_lam:
        term = [a]
        for c, m in mult.items():
            for _ in range(m - cnt.get(c, 0)):
                term = _poly_mul_linear(term, c)
        if len(term) > len(num):
            num = num + [Fraction(0)] * (len(term) - len(num))
        for i, v in enumerate(term):
            num[i] += v
    while len(num) > 1 and num[-1] == 0:
        num.pop()
    if all(v == 0 for v in num):
        return (Fraction(0),), ()
    for c in sorted(mult):  # cancel common linear factors
        while mult[c] and _poly_eval(num, -c) == 0:
            num = _poly_div_linear(num, c)
            mult[c] -= 1
    den = tuple((c, m) for c, m in sorted(mult.items()) if m)
    return tuple(num), den


def _value_symbolic(key: tuple, group: str, d):
    import sympy

    num, den = _rational(key, group)
    x = d if isinstance(d, sympy.Symbol) else sympy.Dummy("d")
    numer = sympy.factor(sum(sympy.Rational(v.numerator, v.denominator) * x ** i
                             for i, v in enumerate(num)))
    expr = numer * sympy.Mul(*[(x + c) ** (-m) for c, m in den])
    return expr if x is d else expr.subs(x, d)


def _value_float(key: tuple, group: str, d: np.ndarray) -> np.ndarray:
    num, den = _rational(key, group)
    out = np.empty(d.shape, dtype=np.float64)
    min_full = max((len(lam) for lam, _ in key), default=0)
    small = d < min_full
    for val in np.unique(d[small]):  # restricted sums (d < ell(lambda)): exact, then rounded
        out[d == val] = float(_value_int(key, group, int(val)))
    big = ~small
    if np.any(big):
        # P(d)/Q(d) = x^{deg Q - deg P} * P~(x) / prod (1 + c x)^m with x = 1/d: no overflow for
        # large d and the leading term dominates, so no cancellation between the lambda-terms.
        x = 1.0 / d[big].astype(np.float64)
        deg_p = len(num) - 1
        deg_q = sum(m for _, m in den)
        acc = np.zeros_like(x)
        for v in num:  # reversed Horner: sum_i num[i] x^{deg_p - i}
            acc = acc * x + float(v)
        q = np.ones_like(x)
        for c, m in den:
            q *= (1.0 + c * x) ** m
        out[big] = acc / q * x ** (deg_q - deg_p)
    return out


def _is_symbolic(d) -> bool:
    try:
        import sympy
    except ImportError:  # pragma: no cover - sympy is a hard dependency
        return False
    return isinstance(d, sympy.Basic)


def _evaluate(coeffs: dict, group: str, d):
    key = _key(coeffs)
    if _is_symbolic(d):
        if not key:
            import sympy
            return sympy.Integer(0)
        return _value_symbolic(key, group, d)
    if isinstance(d, numbers.Integral) and not isinstance(d, bool):
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        return _value_int(key, group, int(d))
    arr = _check_d_array(d)
    if not key:
        return np.zeros(arr.shape)
    return _value_float(key, group, arr)


def _check_d_array(d) -> np.ndarray:
    if isinstance(d, bool) or isinstance(d, (str, bytes)) or d is None:
        raise ValueError(f"d must be a positive int, a sympy expression or an array of positive "
                         f"ints, got {d!r}")
    try:
        arr = np.asarray(d)
    except Exception as exc:  # pragma: no cover
        raise ValueError(f"d could not be converted to an array: {exc}") from exc
    if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"d must be a positive int, a sympy expression or an array of positive "
                         f"ints, got {d!r}")
    if arr.size == 0:
        raise ValueError("d is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError("d contains NaN or inf values")
    if np.iscomplexobj(arr) or np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError("d must hold positive integers (the matrix size)")
    if np.any(arr >= 2.0 ** 63):  # astype(int64) would wrap around
        raise ValueError(f"d holds {np.max(arr):.6g} >= 2**63, which an int64 array cannot "
                         f"hold; pass a Python int for the exact value")
    return arr.astype(np.int64)


# ------------------------------------------------------------------ cost estimate (opt-in)
# Exact Weingarten calculus is super-exponential: the character tables grow with the partitions
# of k and a Haar moment sums over every pair of compatible pairings (permutations). Calls that
# would take longer than _SLOW_SECONDS are refused unless the caller passes allow_slow=True.
# Seconds measured on a 2-core x86-64 machine with CPython 3.11 (cold caches); beyond the table
# each k multiplies the cost by the last observed ratio.
_SLOW_SECONDS = 5.0
_TABLE_SECONDS = {_ORTHOGONAL: {7: 0.074, 8: 0.41, 9: 2.6, 10: 34.0},
                  _UNITARY: {13: 0.78, 14: 1.2, 15: 2.9, 16: 5.0}}
_TABLE_GROWTH = {_ORTHOGONAL: 8.0, _UNITARY: 2.0}
_SECONDS_PER_PAIR = {_ORTHOGONAL: 4.5e-6, _UNITARY: 7.5e-6}  # one (p, q) / (sigma, tau) term


def _table_seconds(k: int, group: str) -> float:
    table = _TABLE_SECONDS[group]
    top = max(table)
    if k > top:
        return table[top] * _TABLE_GROWTH[group] ** (k - top)
    return table.get(k, 0.0)


def _double_factorial(n: int) -> int:
    return prod(range(n, 0, -2)) if n > 0 else 1


def _moment_terms(group: str, *label_lists) -> int:
    """Number of (p, q) pairs (O: pairings compatible with rows and cols, prod (m-1)!! over the
    multiplicities m of each list) or (sigma, tau) pairs (U: prod m! when i, i2 and j, j2 hold
    the same multisets) that the moment formula sums over; computed without enumerating."""
    if group == _ORTHOGONAL:
        rows, cols = label_lists
        n = 1
        for labels in (rows, cols):
            for m in Counter(labels).values():
                n *= _double_factorial(m - 1) if m % 2 == 0 else 0
        return n
    i, j, i2, j2 = label_lists
    n = 1
    for a, b in ((i, i2), (j, j2)):
        if Counter(a) != Counter(b):
            return 0
        n *= prod(factorial(m) for m in Counter(a).values())
    return n


def _check_cost(seconds: float, what: str, allow_slow) -> None:
    if not isinstance(allow_slow, bool):
        raise ValueError(f"allow_slow must be a bool, got {allow_slow!r}")
    if seconds > _SLOW_SECONDS and not allow_slow:
        raise ValueError(f"{what} is estimated to take about {seconds:.3g} s (more than "
                         f"{_SLOW_SECONDS:g} s; the exact sums grow super-exponentially with "
                         f"the degree); pass allow_slow=True to run it anyway")


# ------------------------------------------------------------------ argument parsing

def _parse_class(arg, name: str, *, orthogonal: bool) -> tuple[int, ...]:
    """A partition of k (positive parts) or a permutation (0-based images, contains 0) ->
    partition (coset type of a permutation of S_2k for O, cycle type of one of S_k for U)."""
    try:
        seq = tuple(arg)
    except TypeError:
        raise ValueError(f"{name} must be a partition (tuple of positive ints) or a permutation "
                         f"(tuple of 0-based images), got {arg!r}") from None
    if not seq or not all(isinstance(x, numbers.Integral) and not isinstance(x, bool)
                          for x in seq):
        raise ValueError(f"{name} must be a non-empty tuple of ints, got {arg!r}")
    seq = tuple(int(x) for x in seq)
    if 0 in seq:  # a permutation
        if sorted(seq) != list(range(len(seq))):
            raise ValueError(f"{name}={arg!r} contains 0 but is not a permutation of "
                             f"range({len(seq)})")
        if orthogonal:
            if len(seq) % 2:
                raise ValueError(f"{name}: a permutation of S_2k must have even length, got "
                                 f"{len(seq)}")
            return _coset_type_of_perm(seq)
        return _cycle_type_of_perm(seq)
    if any(x < 1 for x in seq):
        raise ValueError(f"{name}={arg!r}: partition parts must be positive")
    return tuple(sorted(seq, reverse=True))


def _check_k(k, name="k") -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


# ------------------------------------------------------------------ Weingarten functions

def weingarten_orthogonal(coset_type, d, *, allow_slow: bool = False):
    """Orthogonal Weingarten function Wg^O(sigma; d) of degree 2k.

    Wg^O(mu; d) = (2^k k!/(2k)!) sum_{lambda ⊢ k, ell(lambda) <= d} f^{2 lambda} omega^lambda(mu)
    / prod_{(i,j) in lambda} (d + 2j - i - 1).

    Parameters
    ----------
    coset_type : tuple of int
        A partition mu of k (e.g. ``(2, 1)``), or a permutation sigma of S_2k given as the tuple of
        its 2k images, 0-based (``sigma[i]`` = image of ``i``; it contains 0, which tells it apart
        from a partition), reduced to its coset type (loops of the graph with edges {2i, 2i+1} and
        {sigma(2i), sigma(2i+1)}).
    d : int, sympy expression or array_like of int
        int -> exact Fraction; sympy expression -> factored rational function; array of positive
        ints -> float array (see the module docstring).
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        If ``coset_type`` is neither a partition nor a permutation of even length, or ``d`` is not
        a positive integer, a sympy expression or an array of positive integers.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [CM09] Collins & Matsumoto (2009), arXiv:0903.5143, §7; [M12] Matsumoto (2012),
       arXiv:1109.2409; [CS06] Collins & Śniady (2006), arXiv:math-ph/0402073.

    Examples
    --------
    Degree 2 (k = 1): E[O_11²] = Wg^O((1,); d) = 1/d. Degree 4: Wg^O((1,1); d) = (d+1)/(d(d-1)(d+2))
    and Wg^O((2,); d) = -1/(d(d-1)(d+2)), i.e. 4/30 and -1/30 at d = 3:

    >>> import sympy
    >>> from depthcheck.theory.weingarten import weingarten_orthogonal
    >>> weingarten_orthogonal((1,), 5)
    Fraction(1, 5)
    >>> weingarten_orthogonal((1, 1), 3), weingarten_orthogonal((2,), 3)
    (Fraction(2, 15), Fraction(-1, 30))
    >>> d = sympy.Symbol("d")
    >>> sympy.simplify(weingarten_orthogonal((1, 1), d) - (d + 1) / (d * (d - 1) * (d + 2)))
    0
    """
    mu = _parse_class(coset_type, "coset_type", orthogonal=True)
    _check_cost(_table_seconds(sum(mu), _ORTHOGONAL),
                f"the orthogonal Weingarten table of k={sum(mu)}", allow_slow)
    return _evaluate(_orthogonal_coeffs(sum(mu))[mu], _ORTHOGONAL, d)


def weingarten_unitary(cycle_type, d, *, allow_slow: bool = False):
    """Unitary Weingarten function Wg^U(sigma; d), sigma in S_k.

    Wg^U(rho; d) = (1/k!^2) sum_{lambda ⊢ k, ell(lambda) <= d} (f^lambda)^2 chi^lambda(rho) /
    s_lambda(1^d).

    Parameters
    ----------
    cycle_type : tuple of int
        A partition rho of k, or a permutation of S_k as its k images, 0-based.
    d : int, sympy expression or array_like of int
        As for :func:`weingarten_orthogonal`.
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`weingarten_orthogonal`.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [C03] Collins (2003), arXiv:math-ph/0205010; [CS06] Collins & Śniady (2006),
       arXiv:math-ph/0402073.

    Examples
    --------
    Wg^U((1,); d) = 1/d, Wg^U((1,1); d) = 1/(d²-1), Wg^U((2,); d) = -1/(d(d²-1)):

    >>> from depthcheck.theory.weingarten import weingarten_unitary
    >>> weingarten_unitary((1,), 4), weingarten_unitary((1, 1), 2), weingarten_unitary((2,), 2)
    (Fraction(1, 4), Fraction(1, 3), Fraction(-1, 6))
    >>> weingarten_unitary((1, 0), 2)          # the transposition of S_2, cycle type (2,)
    Fraction(-1, 6)
    """
    rho = _parse_class(cycle_type, "cycle_type", orthogonal=False)
    _check_cost(_table_seconds(sum(rho), _UNITARY),
                f"the unitary Weingarten table of k={sum(rho)}", allow_slow)
    return _evaluate(_unitary_coeffs(sum(rho))[rho], _UNITARY, d)


def weingarten_orthogonal_table(k: int, d, *, allow_slow: bool = False) -> dict:
    """{mu: Wg^O(mu; d)} for all coset types mu ⊢ k (degree 2k).

    Parameters
    ----------
    k : int
        Half the degree, >= 1.
    d : int, sympy expression or array_like of int
        As for :func:`weingarten_orthogonal`.
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``k`` is not a positive integer, or ``d`` is invalid.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [CM09] Collins & Matsumoto (2009), arXiv:0903.5143, §7 (tables of the first Weingarten
       functions).

    Examples
    --------
    >>> from fractions import Fraction
    >>> from depthcheck.theory.weingarten import weingarten_orthogonal_table
    >>> weingarten_orthogonal_table(2, 3) == {(1, 1): Fraction(2, 15), (2,): Fraction(-1, 30)}
    True
    """
    k = _check_k(k)
    _check_cost(_table_seconds(k, _ORTHOGONAL), f"the orthogonal Weingarten table of k={k}",
                allow_slow)
    return {mu: _evaluate(c, _ORTHOGONAL, d) for mu, c in _orthogonal_coeffs(k).items()}


def weingarten_unitary_table(k: int, d, *, allow_slow: bool = False) -> dict:
    """{rho: Wg^U(rho; d)} for all cycle types rho ⊢ k.

    Parameters
    ----------
    k : int
        Degree, >= 1.
    d : int, sympy expression or array_like of int
        As for :func:`weingarten_unitary`.
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``k`` is not a positive integer, or ``d`` is invalid.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [C03] Collins (2003), arXiv:math-ph/0205010.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from depthcheck.theory.weingarten import weingarten_unitary_table
    >>> weingarten_unitary_table(2, 2) == {(1, 1): Fraction(1, 3), (2,): Fraction(-1, 6)}
    True
    """
    k = _check_k(k)
    _check_cost(_table_seconds(k, _UNITARY), f"the unitary Weingarten table of k={k}",
                allow_slow)
    return {rho: _evaluate(c, _UNITARY, d) for rho, c in _unitary_coeffs(k).items()}


def _catalan(n: int) -> int:
    return comb(2 * n, n) // (n + 1)


def _asymptotic(mu, d):
    k = sum(mu)
    coef = prod((-1) ** (m - 1) * _catalan(m - 1) for m in mu)
    power = k + (k - len(mu))
    if _is_symbolic(d):
        import sympy
        return sympy.Integer(coef) * d ** (-power)
    if isinstance(d, numbers.Integral) and not isinstance(d, bool):
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        return Fraction(coef, int(d) ** power)
    arr = _check_d_array(d).astype(np.float64)
    return coef * arr ** (-float(power))


def weingarten_orthogonal_asymptotic(coset_type, d):
    """Leading large-d term of Wg^O: prod_i (-1)^{mu_i - 1} Cat_{mu_i - 1} d^{-k - |sigma|}.

    |sigma| = k - ell(mu); the relative error is O(1/d).

    Parameters
    ----------
    coset_type, d
        As for :func:`weingarten_orthogonal`.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`weingarten_orthogonal`.

    References
    ----------
    .. [1] [CM09] Collins & Matsumoto (2009), arXiv:0903.5143; [CS06] Collins & Śniady (2006),
       arXiv:math-ph/0402073.

    Examples
    --------
    (d+1)/(d(d-1)(d+2)) ~ d^{-2} and -1/(d(d-1)(d+2)) ~ -d^{-3}:

    >>> from depthcheck.theory.weingarten import weingarten_orthogonal_asymptotic
    >>> weingarten_orthogonal_asymptotic((1, 1), 10), weingarten_orthogonal_asymptotic((2,), 10)
    (Fraction(1, 100), Fraction(-1, 1000))
    """
    return _asymptotic(_parse_class(coset_type, "coset_type", orthogonal=True), d)


def weingarten_unitary_asymptotic(cycle_type, d):
    """Leading large-d term of Wg^U: prod_i (-1)^{rho_i - 1} Cat_{rho_i - 1} d^{-k - |sigma|}.

    |sigma| = k - ell(rho).

    Parameters
    ----------
    cycle_type, d
        As for :func:`weingarten_unitary`.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`weingarten_unitary`.

    References
    ----------
    .. [1] [C03] Collins (2003), arXiv:math-ph/0205010; [CS06] Collins & Śniady (2006),
       arXiv:math-ph/0402073.

    Examples
    --------
    -1/(d(d²-1)) ~ -d^{-3}; a 3-cycle has Cat_2 = 2: +2 d^{-5}.

    >>> from depthcheck.theory.weingarten import weingarten_unitary_asymptotic
    >>> weingarten_unitary_asymptotic((2,), 10), weingarten_unitary_asymptotic((3,), 10)
    (Fraction(-1, 1000), Fraction(1, 50000))
    """
    return _asymptotic(_parse_class(cycle_type, "cycle_type", orthogonal=False), d)


def clear_caches() -> None:
    """Forget every memoised table (characters, Jack expansions, coefficient tables, moment patterns).

    So that a benchmark times the cold computation; values are unchanged.

    Returns
    -------
    None

    Examples
    --------
    >>> from depthcheck.theory.weingarten import clear_caches, weingarten_orthogonal
    >>> clear_caches()
    >>> weingarten_orthogonal((1, 1), 3)              # recomputed from scratch: (d+1)/(d(d-1)(d+2))
    Fraction(2, 15)
    """
    from depthcheck.theory import _symmetric_group as sg

    for fn in (sg.partitions, sg.character, sg._mn, sg.pairings, sg._p_to_m, sg._m_in_p,
               sg.jack_power_sum_expansion, sg.zonal_spherical_function, _orthogonal_coeffs,
               _unitary_coeffs, _rational, _orthogonal_moment_coeffs, _unitary_moment_coeffs):
        fn.cache_clear()


# ------------------------------------------------------------------ Haar moments

def _canonical(labels) -> tuple[int, ...]:
    seen: dict = {}
    return tuple(seen.setdefault(x, len(seen)) for x in labels)


@lru_cache(maxsize=4096)
def _orthogonal_moment_coeffs(row_pattern, col_pattern) -> dict:
    k = len(row_pattern) // 2
    ps = compatible_pairings(row_pattern)
    qs = compatible_pairings(col_pattern)
    counts = Counter(pairing_coset_type(p, q) for p in ps for q in qs)
    table = _orthogonal_coeffs(k)
    out: dict = {}
    for mu, n in counts.items():
        for lam, a in table[mu].items():
            out[lam] = out.get(lam, 0) + n * a
    return {lam: a for lam, a in out.items() if a}


def _check_labels(labels, name, d) -> tuple:
    try:
        seq = tuple(labels)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integer indices, got {labels!r}") from None
    for x in seq:
        if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
            raise ValueError(f"{name} must hold integer indices, got {x!r}")
        if x < 0:
            raise ValueError(f"{name} holds a negative index {x}")
        if isinstance(d, numbers.Integral) and x >= d:
            raise ValueError(f"{name} holds index {x}, out of range for d={d} (0-based)")
        if isinstance(d, np.ndarray) and x >= d.min():
            raise ValueError(f"{name} holds index {x}, out of range for the smallest d in the "
                             f"array, min(d)={int(d.min())} (0-based)")
    return tuple(int(x) for x in seq)


def haar_moment_orthogonal(rows, cols, d, *, allow_slow: bool = False):
    """Exact E[prod_m O_{rows[m], cols[m]}] for O Haar-distributed on O(d) (0-based indices).

    The sum over pairings p compatible with ``rows`` and q compatible with ``cols`` of
    Wg^O(coset type of p ∨ q; d). Odd degree (or an index that occurs an odd number of times)
    gives 0. For a symbolic d the labels are abstract distinct indices.

    Parameters
    ----------
    rows, cols : sequence of int
        Row and column indices of the factors (same length), 0-based.
    d : int, sympy expression or array_like of int
        As for :func:`weingarten_orthogonal`.
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        If the index lists differ in length, hold a negative or out-of-range index, or ``d`` is
        invalid.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [CS06] Collins & Śniady (2006), arXiv:math-ph/0402073; [CM09] Collins & Matsumoto
       (2009), arXiv:0903.5143.

    Examples
    --------
    E[O_11^4] = 3/(d(d+2)): at d = 1 (O = ±1) it is 1, at d = 3 it is 1/5. Four entries of a 2×2
    block: E[O_11 O_12 O_21 O_22] = -1/(d(d-1)(d+2)) = -1/30 at d = 3.

    >>> from depthcheck.theory.weingarten import haar_moment_orthogonal
    >>> haar_moment_orthogonal((0, 0, 0, 0), (0, 0, 0, 0), 1), haar_moment_orthogonal((0,) * 4, (0,) * 4, 3)
    (Fraction(1, 1), Fraction(1, 5))
    >>> haar_moment_orthogonal((0, 0, 1, 1), (0, 1, 0, 1), 3)
    Fraction(-1, 30)
    >>> haar_moment_orthogonal((0, 0, 0), (0, 0, 0), 3)             # odd degree
    Fraction(0, 1)
    """
    bound = d if (_is_symbolic(d) or isinstance(d, numbers.Integral)) else _check_d_array(d)
    rows = _check_labels(rows, "rows", bound)
    cols = _check_labels(cols, "cols", bound)
    if len(rows) != len(cols):
        raise ValueError(f"rows and cols must have the same length, got {len(rows)} and "
                         f"{len(cols)}")
    if not rows:
        return _one(d)
    odd = any(v % 2 for v in Counter(rows).values()) or any(v % 2 for v in Counter(cols).values())
    if not odd:
        terms = _moment_terms(_ORTHOGONAL, rows, cols)
        _check_cost(terms * _SECONDS_PER_PAIR[_ORTHOGONAL]
                    + _table_seconds(len(rows) // 2, _ORTHOGONAL),
                    f"this degree-{len(rows)} orthogonal moment ({terms} pairs of pairings)",
                    allow_slow)
    coeffs = {} if odd else _orthogonal_moment_coeffs(_canonical(rows), _canonical(cols))
    return _evaluate(coeffs, _ORTHOGONAL, d)


def _one(d):
    if _is_symbolic(d):
        import sympy
        return sympy.Integer(1)
    if isinstance(d, numbers.Integral):
        return Fraction(1)
    return np.ones(_check_d_array(d).shape)


@lru_cache(maxsize=4096)
def _unitary_moment_coeffs(i, j, i2, j2) -> dict:
    k = len(i)
    sigmas = compatible_permutations(i, i2)
    taus = compatible_permutations(j, j2)
    counts: Counter = Counter()
    for s in sigmas:
        s_inv = [0] * k
        for m, t in enumerate(s):
            s_inv[t] = m
        for t in taus:
            counts[_cycle_type_of_perm(tuple(t[s_inv[m]] for m in range(k)))] += 1
    table = _unitary_coeffs(k)
    out: dict = {}
    for rho, n in counts.items():
        for lam, a in table[rho].items():
            out[lam] = out.get(lam, 0) + n * a
    return {lam: a for lam, a in out.items() if a}


def haar_moment_unitary(i, j, i2, j2, d, *, allow_slow: bool = False):
    """Exact E[U_{i_1 j_1} ... U_{i_k j_k} conj(U_{i'_1 j'_1} ... U_{i'_k' j'_k'})] for U Haar on U(d).

    Sum over sigma, tau in S_k with i_m = i'_{sigma(m)}, j_m = j'_{tau(m)} of
    Wg^U(tau sigma^{-1}; d). Zero unless k == k'.

    Parameters
    ----------
    i, j : sequence of int
        Row and column indices of the U factors, 0-based.
    i2, j2 : sequence of int
        Row and column indices (i', j') of the conjugated factors.
    d : int, sympy expression or array_like of int
        As for :func:`weingarten_unitary`.
    allow_slow : bool, optional
        Run even when the estimated cost exceeds a few seconds (module docstring, "Cost");
        without it such a call raises ``ValueError`` giving the estimate.

    Returns
    -------
    fractions.Fraction, sympy expression or numpy.ndarray

    Raises
    ------
    ValueError
        If index lists of one kind differ in length, hold a negative or out-of-range index, or ``d``
        is invalid.
        Also when the estimated cost exceeds a few seconds and ``allow_slow`` is not set.

    References
    ----------
    .. [1] [C03] Collins (2003), arXiv:math-ph/0205010; [CS06] Collins & Śniady (2006),
       arXiv:math-ph/0402073.

    Examples
    --------
    E|U_11|² = 1/d and E|U_11|^4 = 2/(d(d+1)) (= 1 for d = 1, where |U| = 1):

    >>> from depthcheck.theory.weingarten import haar_moment_unitary
    >>> haar_moment_unitary((0,), (0,), (0,), (0,), 3)
    Fraction(1, 3)
    >>> haar_moment_unitary((0, 0), (0, 0), (0, 0), (0, 0), 1), haar_moment_unitary((0, 0), (0, 0), (0, 0), (0, 0), 3)
    (Fraction(1, 1), Fraction(1, 6))
    """
    bound = d if (_is_symbolic(d) or isinstance(d, numbers.Integral)) else _check_d_array(d)
    i, j = _check_labels(i, "i", bound), _check_labels(j, "j", bound)
    i2, j2 = _check_labels(i2, "i2", bound), _check_labels(j2, "j2", bound)
    if len(i) != len(j):
        raise ValueError(f"i and j must have the same length, got {len(i)} and {len(j)}")
    if len(i2) != len(j2):
        raise ValueError(f"i2 and j2 must have the same length, got {len(i2)} and {len(j2)}")
    if len(i) != len(i2):
        return _evaluate({}, _UNITARY, d)
    if not i:
        return _one(d)
    ri = _canonical(i + i2)
    rj = _canonical(j + j2)
    k = len(i)
    terms = _moment_terms(_UNITARY, i, j, i2, j2)
    if terms:
        _check_cost(terms * _SECONDS_PER_PAIR[_UNITARY] + _table_seconds(k, _UNITARY),
                    f"this degree-{k} unitary moment ({terms} pairs of permutations)",
                    allow_slow)
    coeffs = _unitary_moment_coeffs(ri[:k], rj[:k], ri[k:], rj[k:])
    return _evaluate(coeffs, _UNITARY, d)


# ------------------------------------------------------------------ use in Meterez et al., Theorem 3

def expected_mean_square_row_norm(eigenvalues, d):
    """E_W[(1/d) sum_i a_i^2] for a_i = ||e_i^T W X||^2, W Haar on O(d).

    By Haar invariance a_i = sum_k lambda_k O_ik^2 with O Haar, hence
        E[a_1^2] = E[O_11^4] sum_k lambda_k^2 + E[O_11^2 O_12^2] ((sum lambda)^2 - sum lambda^2)
                 = ((sum_k lambda_k)^2 + 2 sum_k lambda_k^2) / (d (d+2)),
    which is (d^2 + 2 sum_k lambda_k^2)/(d(d+2)) under BN's trace condition sum_k lambda_k = d.
    The two moments are computed here with :func:`haar_moment_orthogonal`, not hard-coded.

    Parameters
    ----------
    eigenvalues : sequence
        The eigenvalues lambda_k of X X^T (the zero ones may be left out, so at most d values):
        ints/Fractions (exact), floats, or sympy expressions.
    d : int or sympy expression

    Returns
    -------
    fractions.Fraction, float or sympy expression

    Raises
    ------
    ValueError
        If ``eigenvalues`` is empty, longer than d, or holds a non-finite value, or ``d`` is not a
        positive int or sympy expression.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, proof of Theorem 3 (= Theorem A.4) [P words,
       D formula; ``docs/derivations/isometry_bn.md``].
    .. [2] [CM09] Collins & Matsumoto (2009), arXiv:0903.5143, §7.

    Examples
    --------
    Orthogonal X (lambda = (1, 1, 1)): a_i = 1, mean square 1. Rank one (lambda = (3,)):
    a_i = 3 O_i1^2, E a_i^2 = 9 · 3/(3·5) = 9/5.

    >>> from depthcheck.theory.weingarten import expected_mean_square_row_norm
    >>> expected_mean_square_row_norm([1, 1, 1], 3), expected_mean_square_row_norm([3], 3)
    (Fraction(1, 1), Fraction(9, 5))
    """
    lam = list(eigenvalues)
    if not lam:
        raise ValueError("eigenvalues is empty")
    symbolic = _is_symbolic(d) or any(_is_symbolic(x) for x in lam)
    if not _is_symbolic(d):
        d = _check_positive_d(d)
        if len(lam) > d:
            raise ValueError(f"eigenvalues has {len(lam)} entries, more than d={d}")
    if not symbolic:
        for x in lam:
            if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(float(x)):
                raise ValueError(f"eigenvalues must be finite real numbers, got {x!r}")
    m4 = haar_moment_orthogonal((0, 0, 0, 0), (0, 0, 0, 0), d)
    m22 = haar_moment_orthogonal((0, 0, 0, 0), (0, 0, 1, 1), d) if len(lam) > 1 else 0
    p1 = sum(lam)
    p2 = sum(x * x for x in lam)
    if symbolic:
        import sympy
        m4, m22 = sympy.sympify(m4), sympy.sympify(m22)
        return sympy.factor(m4 * p2 + m22 * (p1 ** 2 - p2))
    if any(isinstance(x, float) or isinstance(x, np.floating) for x in lam):
        return float(m4) * float(p2) + float(m22) * (float(p1) ** 2 - float(p2))
    return m4 * p2 + m22 * (p1 ** 2 - p2)


def _check_positive_d(d) -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"d must be a positive int or a sympy expression, got {d!r}")
    return int(d)
