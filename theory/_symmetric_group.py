"""Combinatorics of the symmetric group behind the Weingarten functions.

Partitions, hook lengths, irreducible characters of S_n (Murnaghan–Nakayama), pair partitions
(pairings) of {0, ..., 2k-1} and their coset types, and the power-sum expansion of Jack
polynomials (zonal polynomials at alpha = 2, Schur functions at alpha = 1).

Conventions: a partition is a non-increasing tuple of positive ints; a permutation of S_n is a
tuple of its n images, 0-based (``perm[i]`` is the image of ``i``); a pairing of {0..2k-1} is
stored as the involution ``pair[i]`` = partner of ``i``. Everything is exact (int/Fraction).
Sources: Macdonald, *Symmetric functions and Hall polynomials*, 2nd ed. (1995), I.7 (characters),
VI.10 (Jack polynomials), VII.2 (zonal polynomials and the Gelfand pair (S_2k, H_k)).
"""
from __future__ import annotations

from collections import Counter
from fractions import Fraction
from functools import lru_cache
from math import factorial, prod

__all__ = [
    "partitions",
    "conjugate",
    "hook_product",
    "dim_irrep",
    "z_rho",
    "character",
    "cycle_type",
    "pairings",
    "pairing_coset_type",
    "coset_type",
    "compatible_pairings",
    "compatible_permutations",
    "jack_power_sum_expansion",
    "zonal_spherical_function",
]


@lru_cache(maxsize=None)
def partitions(n: int) -> tuple[tuple[int, ...], ...]:
    """All partitions of ``n``, in decreasing lexicographic order ((n) first, (1^n) last)."""
    def gen(rest, bound):
        if rest == 0:
            yield ()
            return
        for part in range(min(rest, bound), 0, -1):
            for tail in gen(rest - part, part):
                yield (part,) + tail
    return tuple(gen(n, n))


def conjugate(lam) -> tuple[int, ...]:
    """Conjugate (transposed) partition lambda'."""
    return tuple(sum(1 for part in lam if part > j) for j in range(lam[0])) if lam else ()


def hook_product(lam) -> int:
    """H_lambda = product of the hook lengths of the Young diagram of lambda."""
    lam_c = conjugate(lam)
    return prod(lam[i] - j + lam_c[j] - i - 1 for i in range(len(lam)) for j in range(lam[i]))


def dim_irrep(lam) -> int:
    """f^lambda = chi^lambda(e) = n!/H_lambda (hook length formula, Macdonald I.7 ex. 2)."""
    return factorial(sum(lam)) // hook_product(lam)


def z_rho(rho) -> int:
    """z_rho = prod_i i^{m_i} m_i!: the centraliser size of a permutation of cycle type rho."""
    return prod(part ** mult * factorial(mult) for part, mult in Counter(rho).items())


@lru_cache(maxsize=None)
def character(lam: tuple[int, ...], rho: tuple[int, ...]) -> int:
    """chi^lambda(rho) by the Murnaghan–Nakayama rule (Macdonald I.7 ex. 5), memoised.

    Works on beta-sets: removing a border strip of length r moves a bead from b to b - r, with
    sign (-1)^(number of beads strictly between b - r and b). ``rho`` is any ordering of the cycle
    type; the largest part is removed first.
    """
    if sum(lam) != sum(rho):
        raise ValueError(f"lam={lam} and rho={rho} are partitions of different integers")
    rho = tuple(sorted(rho, reverse=True))
    ell = len(lam)
    beta = frozenset(lam[i] + ell - 1 - i for i in range(ell))
    return _mn(beta, rho)


@lru_cache(maxsize=None)
def _mn(beta: frozenset, rho: tuple[int, ...]) -> int:
    if not rho:
        return 1
    r, rest = rho[0], rho[1:]
    total = 0
    for b in beta:
        if b - r >= 0 and (b - r) not in beta:
            height = sum(1 for c in beta if b - r < c < b)
            total += (-1) ** height * _mn((beta - {b}) | {b - r}, rest)
    return total


def cycle_type(perm) -> tuple[int, ...]:
    """Cycle type (a partition of n) of a permutation given by its 0-based images."""
    n = len(perm)
    seen = [False] * n
    parts = []
    for start in range(n):
        if not seen[start]:
            length, v = 0, start
            while not seen[v]:
                seen[v] = True
                v = perm[v]
                length += 1
            parts.append(length)
    return tuple(sorted(parts, reverse=True))


@lru_cache(maxsize=None)
def pairings(n_points: int) -> tuple[tuple[int, ...], ...]:
    """All (n_points - 1)!! pair partitions of {0..n_points-1} as involutions; the first one is
    the reference pairing epsilon = {0,1}{2,3}... ."""
    if n_points % 2:
        return ()

    def gen(free):
        if not free:
            yield ()
            return
        a = free[0]
        for idx in range(1, len(free)):
            b = free[idx]
            for tail in gen(free[1:idx] + free[idx + 1:]):
                yield ((a, b),) + tail
    out = []
    for pairs in gen(tuple(range(n_points))):
        inv = [0] * n_points
        for a, b in pairs:
            inv[a], inv[b] = b, a
        out.append(tuple(inv))
    return tuple(out)


def pairing_coset_type(p, q) -> tuple[int, ...]:
    """Coset type of two pairings: the loops of the graph p ∪ q have lengths 2 mu_1 >= 2 mu_2 ...;
    return mu (a partition of k; Macdonald VII.2, Collins–Śniady 2006 Sec. 3). The number of
    loops ell(mu) is the exponent in the Gram matrix entry d^{loops(p ∨ q)}."""
    n = len(p)
    seen = [False] * n
    parts = []
    for start in range(n):
        if not seen[start]:
            length, v = 0, start
            while not seen[v]:
                w = p[v]
                seen[v] = seen[w] = True
                v = q[w]
                length += 1
            parts.append(length)
    return tuple(sorted(parts, reverse=True))


def coset_type(perm) -> tuple[int, ...]:
    """Coset type of sigma in S_2k (0-based images).

    The components of the graph with edges {2i, 2i+1} and {sigma(2i), sigma(2i+1)} are loops of
    lengths 2 mu_1 >= 2 mu_2 >= ...; mu is a partition of k.

    Parameters
    ----------
    perm : sequence of int
        A permutation of range(2k) as its images.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        If ``perm`` has odd length.

    References
    ----------
    .. [1] S. Matsumoto (2012), arXiv:1109.2409; I. G. Macdonald, Symmetric Functions and Hall
       Polynomials, 2nd ed. (1995), VII.2.

    Examples
    --------
    The identity of S_4 maps {0,1}, {2,3} onto themselves: two loops of length 2, type (1, 1).
    sigma = (0, 2, 1, 3) adds the edges {0,2}, {1,3}: one loop 0-1-3-2 of length 4, type (2,).

    >>> from depthcheck.theory.weingarten import coset_type
    >>> coset_type((0, 1, 2, 3)), coset_type((0, 2, 1, 3))
    ((1, 1), (2,))
    """
    n = len(perm)
    if n % 2:
        raise ValueError(f"perm must have even length 2k, got length {n}")
    eps = tuple(i ^ 1 for i in range(n))
    q = [0] * n
    for i in range(0, n, 2):
        a, b = perm[i], perm[i + 1]
        q[a], q[b] = b, a
    return pairing_coset_type(eps, q)


def compatible_pairings(labels) -> list[tuple[int, ...]]:
    """Pairings p of the positions with labels[a] == labels[p[a]] for every a (delta_p(i) = 1)."""
    labels = tuple(labels)
    n = len(labels)
    if n % 2:
        return []
    out = []
    cur = [-1] * n

    def rec():
        try:
            a = cur.index(-1)
        except ValueError:
            out.append(tuple(cur))
            return
        for b in range(a + 1, n):
            if cur[b] == -1 and labels[b] == labels[a]:
                cur[a], cur[b] = b, a
                rec()
                cur[a] = cur[b] = -1
    rec()
    return out


def compatible_permutations(src, dst) -> list[tuple[int, ...]]:
    """Permutations sigma with dst[sigma(m)] == src[m] for all m (the unitary delta functions)."""
    src, dst = tuple(src), tuple(dst)
    n = len(src)
    if len(dst) != n:
        return []
    out = []
    used = [False] * n
    cur = [0] * n

    def rec(m):
        if m == n:
            out.append(tuple(cur))
            return
        for t in range(n):
            if not used[t] and dst[t] == src[m]:
                used[t] = True
                cur[m] = t
                rec(m + 1)
                used[t] = False
    rec(0)
    return out


# ---------------------------------------------------------------- Jack polynomials in power sums

@lru_cache(maxsize=None)
def _p_to_m(n: int) -> tuple[tuple[int, ...], ...]:
    """R[rho][mu] with p_rho = sum_mu R[rho][mu] m_mu: the number of maps f from the parts of rho
    to the rows of mu with sum_{f(j)=i} rho_j = mu_i (the coefficient of x^mu in p_rho)."""
    parts = partitions(n)

    def count(rho, mu):
        bins = list(mu)

        def rec(j):
            if j == len(rho):
                return 1
            total = 0
            for i in range(len(bins)):
                if bins[i] >= rho[j]:
                    bins[i] -= rho[j]
                    total += rec(j + 1)
                    bins[i] += rho[j]
            return total
        return rec(0)
    return tuple(tuple(count(rho, mu) for mu in parts) for rho in parts)


@lru_cache(maxsize=None)
def _m_in_p(n: int) -> tuple[tuple[Fraction, ...], ...]:
    """A[mu][rho] with m_mu = sum_rho A[mu][rho] p_rho (A = R^{-1}, exact)."""
    parts = partitions(n)
    N = len(parts)
    R = _p_to_m(n)
    # p_rho involves only m_mu with mu >= rho (dominance), so R is triangular in the decreasing
    # lexicographic order used by partitions(): R[r][c] == 0 for c > r. Invert by substitution.
    A = [[Fraction(0)] * N for _ in range(N)]
    for r in range(N):
        # m_r = (p_r - sum_{c<r} R[r][c] m_c) / R[r][r]
        row = [Fraction(0)] * N
        row[r] = Fraction(1)
        for c in range(r):
            coeff = R[r][c]
            if coeff:
                row = [x - coeff * y for x, y in zip(row, A[c])]
        A[r] = [x / R[r][r] for x in row]
    return tuple(tuple(row) for row in A)


@lru_cache(maxsize=None)
def jack_power_sum_expansion(n: int, alpha: int) -> dict:
    """Jack polynomials J_lambda^(alpha), lambda ⊢ n, in the power-sum basis: {lambda: {rho: c}}.

    Macdonald VI.10 (with VI.4): P_lambda = m_lambda + (lower terms in dominance), orthogonal under
    <p_rho, p_sigma>_alpha = delta z_rho alpha^{ell(rho)}. Gram–Schmidt along any linear extension
    of dominance gives the same P (here: increasing lexicographic order). J_lambda is P_lambda
    scaled so that the coefficient of p_1^n is 1 (Stanley's normalisation [m_{1^n}] J = n!, 1989).
    alpha = 1 gives the Schur functions times H_lambda, alpha = 2 the zonal polynomials Z_lambda
    (Macdonald VII.2).
    """
    parts = partitions(n)
    N = len(parts)
    A = _m_in_p(n)
    weight = [Fraction(z_rho(rho) * alpha ** len(rho)) for rho in parts]

    def dot(u, v):
        return sum(a * b * w for a, b, w in zip(u, v, weight) if a and b)

    ortho: list[list[Fraction]] = []  # P's, from the lowest partition (1^n) upward
    norms: list[Fraction] = []
    for idx in range(N - 1, -1, -1):
        vec = list(A[idx])
        for P, nrm in zip(ortho, norms):
            c = dot(vec, P) / nrm
            if c:
                vec = [x - c * y for x, y in zip(vec, P)]
        ortho.append(vec)
        norms.append(dot(vec, vec))
    out = {}
    for pos, vec in enumerate(ortho):
        lam = parts[N - 1 - pos]
        scale = vec[N - 1]  # coefficient of p_{1^n}: last partition in decreasing lex order
        out[lam] = {rho: c / scale for rho, c in zip(parts, vec) if c}
    return out


@lru_cache(maxsize=None)
def zonal_spherical_function(lam: tuple[int, ...], mu: tuple[int, ...]) -> Fraction:
    """omega^lambda(mu) = |H_k|^{-1} sum_{zeta in H_k} chi^{2 lambda}(sigma zeta), sigma of coset
    type mu, read off the zonal polynomial:
    Z_lambda = |H_k| sum_mu z_{2mu}^{-1} omega^lambda_mu p_mu with z_{2mu} = 2^{ell(mu)} z_mu and |H_k| = 2^k k! (Macdonald VII.2)."""
    k = sum(lam)
    if sum(mu) != k:
        raise ValueError(f"lam={lam} and mu={mu} are partitions of different integers")
    coeff = jack_power_sum_expansion(k, 2)[lam].get(mu, Fraction(0))
    return coeff * (2 ** len(mu) * z_rho(mu)) / (2 ** k * factorial(k))
