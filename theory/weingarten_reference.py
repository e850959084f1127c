"""Naive reference Weingarten functions: invert the Gram matrix directly (small k only).

Orthogonal: G(p, q) = d^{loops(p ∨ q)} over the (2k-1)!! pairings of {0..2k-1}; unitary:
G(sigma, tau) = d^{#cycles(sigma^-1 tau)} over S_k. The Weingarten matrix is G^{-1} for d >= k
and the Moore–Penrose pseudo-inverse G^+ for d < k (Collins & Matsumoto, "Weingarten calculus via
orthogonality relations: new applications", ALEA 14 (2017), arXiv:1701.04493). Only the column of
the reference element (the pairing {0,1}{2,3}... resp. the identity) is needed; Wg(mu) is read
off at any element of coset/cycle type mu, and the reference checks that every element of the
same type gives the same value.

Deliberately independent of ``depthcheck.theory.weingarten`` (no characters, no zonal
polynomials): it is the oracle of the tests and the baseline of the benchmark. Cost is cubic in
(2k-1)!!, so k <= 4 (105 pairings) with Fractions; the symbolic version is practical for k <= 3.
"""
from __future__ import annotations

from fractions import Fraction
from math import gcd as _gcd
from itertools import permutations

from depthcheck.theory._symmetric_group import cycle_type, pairing_coset_type, pairings

__all__ = [
    "gram_matrix_orthogonal",
    "gram_matrix_unitary",
    "pseudo_inverse_column",
    "weingarten_orthogonal_naive",
    "weingarten_unitary_naive",
]


def gram_matrix_orthogonal(k: int, d):
    """(elements, G) with elements the pairings of {0..2k-1} and G[a][b] = d^{loops(a ∨ b)}.

    Parameters
    ----------
    k : int
        Half the degree.
    d : int or sympy expression

    Returns
    -------
    tuple
        (tuple of pairings as involutions, list of lists G).

    References
    ----------
    .. [1] B. Collins, P. Śniady (2006), arXiv:math-ph/0402073, §3 (the Gram matrix of pairings).

    Examples
    --------
    k = 1 has the single pairing {0, 1} with one loop: G = [[d]].

    >>> from depthcheck.theory.weingarten_reference import gram_matrix_orthogonal
    >>> gram_matrix_orthogonal(1, 3)
    (((1, 0),), [[3]])
    """
    elems = pairings(2 * k)
    return elems, [[d ** len(pairing_coset_type(p, q)) for q in elems] for p in elems]


def gram_matrix_unitary(k: int, d):
    """(elements, G) with elements S_k (0-based images) and G[a][b] = d^{#cycles(a^-1 b)}.

    Parameters
    ----------
    k : int
        Degree.
    d : int or sympy expression

    Returns
    -------
    tuple
        (list of permutations, list of lists G).

    References
    ----------
    .. [1] B. Collins (2003), arXiv:math-ph/0205010 (Wg^U as the inverse of this Gram matrix).

    Examples
    --------
    S_2 = {identity (2 cycles), transposition (1 cycle)}: G = [[d², d], [d, d²]].

    >>> from depthcheck.theory.weingarten_reference import gram_matrix_unitary
    >>> gram_matrix_unitary(2, 2)
    ([(0, 1), (1, 0)], [[4, 2], [2, 4]])
    """
    elems = list(permutations(range(k)))
    inv = [tuple(sorted(range(k), key=s.__getitem__)) for s in elems]
    return elems, [[d ** len(cycle_type(tuple(si[t[m]] for m in range(k)))) for t in elems]
                   for si in inv]


def _rref_pivots(G: list[list[int]]) -> list[int]:
    """Indices of a maximal set of linearly independent columns (fraction-free elimination)."""
    A = [list(row) for row in G]
    n_rows, n_cols = len(A), len(A[0])
    pivots, r, prev = [], 0, 1
    for c in range(n_cols):
        piv = next((i for i in range(r, n_rows) if A[i][c] != 0), None)
        if piv is None:
            continue
        A[r], A[piv] = A[piv], A[r]
        p = A[r][c]
        for i in range(r + 1, n_rows):
            a = A[i][c]
            A[i] = [(p * x - a * y) // prev for x, y in zip(A[i], A[r])]  # Bareiss: exact
        prev = p
        pivots.append(c)
        r += 1
        if r == n_rows:
            break
    return pivots


def _solve(A: list[list[int]], b: list) -> list[Fraction]:
    """Exact solution of the nonsingular integer system A x = b (b rational): fraction-free
    Bareiss elimination in Python ints, then back substitution in Fractions."""
    n = len(A)
    b = [Fraction(v) for v in b]
    scale = 1
    for v in b:
        scale = scale * v.denominator // _gcd(scale, v.denominator)
    M = [list(row) + [int(v * scale)] for row, v in zip(A, b)]
    prev = 1
    for c in range(n):
        piv = next(i for i in range(c, n) if M[i][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        p, pivot_row = M[c][c], M[c]
        for i in range(c + 1, n):
            a = M[i][c]
            M[i] = [0] * (c + 1) + [(p * x - a * y) // prev
                                    for x, y in zip(M[i][c + 1:], pivot_row[c + 1:])]
        prev = p
    x = [Fraction(0)] * n
    for i in range(n - 1, -1, -1):
        acc = Fraction(M[i][n]) - sum(M[i][j] * x[j] for j in range(i + 1, n) if M[i][j])
        x[i] = acc / M[i][i]
    return [v / scale for v in x]


def pseudo_inverse_column(G: list[list], col: int) -> list[Fraction]:
    """Column ``col`` of the Moore–Penrose pseudo-inverse of the symmetric PSD matrix G (exact).

    With B a maximal independent set of columns, C = G[:, B] and M = G[B, B] (nonsingular for a
    PSD matrix), G = C M^{-1} C^T and G^+ = C (C^T C)^{-1} M (C^T C)^{-1} C^T.

    Parameters
    ----------
    G : list of list of int
        Symmetric positive semi-definite integer matrix.
    col : int
        Column index.

    Returns
    -------
    list of fractions.Fraction

    References
    ----------
    .. [1] B. Collins, S. Matsumoto (2017), arXiv:1701.04493 (Wg as the pseudo-inverse for d < k).

    Examples
    --------
    [[4, 2], [2, 4]]^{-1} = (1/12)[[4, -2], [-2, 4]]: its first column (1/3, -1/6) is
    (Wg^U((1,1); 2), Wg^U((2,); 2)). The singular [[1, 1], [1, 1]] has pseudo-inverse G/4:

    >>> from depthcheck.theory.weingarten_reference import pseudo_inverse_column
    >>> pseudo_inverse_column([[4, 2], [2, 4]], 0)
    [Fraction(1, 3), Fraction(-1, 6)]
    >>> pseudo_inverse_column([[1, 1], [1, 1]], 0)
    [Fraction(1, 4), Fraction(1, 4)]
    """
    n = len(G)
    B = _rref_pivots(G)
    if len(B) == n:
        e = [0] * n
        e[col] = 1
        return _solve(G, e)
    C = [[G[i][j] for j in B] for i in range(n)]
    CtC = [[sum(C[i][a] * C[i][b] for i in range(n)) for b in range(len(B))] for a in range(len(B))]
    y = _solve(CtC, [C[col][a] for a in range(len(B))])  # (C^T C)^{-1} C^T e_col
    My = [sum(G[B[a]][B[b]] * y[b] for b in range(len(B))) for a in range(len(B))]
    z = _solve(CtC, My)
    return [sum(C[i][a] * z[a] for a in range(len(B))) for i in range(n)]


def _collect(elems, column, type_of) -> dict:
    out: dict = {}
    for e, v in zip(elems, column):
        t = type_of(e)
        if t in out and out[t] != v:
            raise AssertionError(f"Weingarten column is not a function of the type {t}: "
                                 f"{out[t]} != {v}")
        out.setdefault(t, v)
    return out


def _symbolic_solve(G, col):
    """Column ``col`` of G^{-1} for a symbolic Gram matrix (sympy DomainMatrix over Q(d))."""
    import sympy
    from sympy.polys.matrices import DomainMatrix

    gens = sorted(set().union(*(sympy.sympify(x).free_symbols for row in G for x in row)),
                  key=str)
    K = sympy.QQ.frac_field(*gens)
    n = len(G)
    A = DomainMatrix([[K.from_sympy(sympy.sympify(x)) for x in row] for row in G], (n, n), K)
    b = DomainMatrix([[K.one if i == col else K.zero] for i in range(n)], (n, 1), K)
    x = A.lu_solve(b)
    return [sympy.factor(K.to_sympy(x[i, 0].element)) for i in range(n)]


def weingarten_orthogonal_naive(k: int, d) -> dict:
    """{coset type mu: Wg^O(mu; d)} from the Gram matrix of pairings (pseudo-inverse if d < k).

    Parameters
    ----------
    k : int
        Half the degree.
    d : int or sympy Symbol
        Positive int (exact Fractions) or a sympy Symbol (generic G^{-1}, valid for d >= k).

    Returns
    -------
    dict

    Raises
    ------
    AssertionError
        If the computed column is not a function of the coset type (an internal consistency check).

    References
    ----------
    .. [1] B. Collins, P. Śniady (2006), arXiv:math-ph/0402073; B. Collins, S. Matsumoto (2017),
       arXiv:1701.04493.

    Examples
    --------
    The closed forms (d+1)/(d(d-1)(d+2)) and -1/(d(d-1)(d+2)) at d = 3:

    >>> from fractions import Fraction
    >>> from depthcheck.theory.weingarten_reference import weingarten_orthogonal_naive
    >>> weingarten_orthogonal_naive(2, 3) == {(1, 1): Fraction(2, 15), (2,): Fraction(-1, 30)}
    True
    """
    elems, G = gram_matrix_orthogonal(k, d)
    eps = elems[0]
    column = _symbolic_solve(G, 0) if not isinstance(d, int) else pseudo_inverse_column(G, 0)
    return _collect(elems, column, lambda p: pairing_coset_type(eps, p))


def weingarten_unitary_naive(k: int, d) -> dict:
    """{cycle type rho: Wg^U(rho; d)} from the Gram matrix over S_k (pseudo-inverse if d < k).

    Parameters
    ----------
    k : int
        Degree.
    d : int or sympy Symbol

    Returns
    -------
    dict

    Raises
    ------
    AssertionError
        If the computed column is not a function of the cycle type (an internal consistency check).

    References
    ----------
    .. [1] B. Collins (2003), arXiv:math-ph/0205010; B. Collins, S. Matsumoto (2017),
       arXiv:1701.04493.

    Examples
    --------
    1/(d²-1) and -1/(d(d²-1)) at d = 2; at d = 1 < k = 2 the pseudo-inverse gives
    E|U_11|^4 = Wg(1,1) + Wg(2) = 1 for U(1):

    >>> from fractions import Fraction
    >>> from depthcheck.theory.weingarten_reference import weingarten_unitary_naive
    >>> weingarten_unitary_naive(2, 2) == {(1, 1): Fraction(1, 3), (2,): Fraction(-1, 6)}
    True
    >>> w = weingarten_unitary_naive(2, 1)
    >>> 2 * (w[(1, 1)] + w[(2,)])
    Fraction(1, 1)
    """
    elems, G = gram_matrix_unitary(k, d)
    assert elems[0] == tuple(range(k))
    column = _symbolic_solve(G, 0) if not isinstance(d, int) else pseudo_inverse_column(G, 0)
    return _collect(elems, column, cycle_type)
