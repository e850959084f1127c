"""Exact Weingarten calculus (depthcheck.theory.weingarten) against independent references.

Oracles: the naive Gram-matrix (pseudo-)inverse (depthcheck.theory.weingarten_reference, no characters),
literature values (Collins 2003; Collins & Śniady 2006; Collins & Matsumoto 2009), the sphere
moments of a Haar column, Rains' (1998) counts for E[(tr O)^{2k}] and E|tr U|^{2k}, the definition
of the zonal spherical functions through Murnaghan–Nakayama characters, and Monte Carlo.
"""
from fractions import Fraction
from itertools import permutations
from math import factorial, gcd, prod

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory._symmetric_group import (character, coset_type, cycle_type, pairing_coset_type, pairings, partitions, zonal_spherical_function)
from depthcheck.theory.weingarten import (expected_mean_square_row_norm, haar_moment_orthogonal, haar_moment_unitary, weingarten_orthogonal, weingarten_orthogonal_asymptotic, weingarten_orthogonal_table, weingarten_unitary, weingarten_unitary_asymptotic, weingarten_unitary_table)
from depthcheck.theory.weingarten_reference import (weingarten_orthogonal_naive, weingarten_unitary_naive)

d = sympy.Symbol("d")


def same(expr, expected):
    return sympy.cancel(sympy.sympify(expr) - sympy.sympify(expected)) == 0


def double_factorial(n):
    return prod(range(n, 0, -2)) if n > 0 else 1


# ----------------------------------------------------------------------------- literature values

LIT_ORTHOGONAL = {
    (1,): 1 / d,
    (1, 1): (d + 1) / (d * (d - 1) * (d + 2)),
    (2,): -1 / (d * (d - 1) * (d + 2)),
    # Collins & Matsumoto 2009, Sec. 7. The brief listed Wg([2,1]) with an extra (d+2) in the
    # denominator; that is O(d^-5), contradicting the leading order -d^{-4} (|sigma| = 1) and the
    # naive Gram inverse below, which both give -1/(d(d-1)(d-2)(d+4)).
    (1, 1, 1): (d ** 2 + 3 * d - 2) / (d * (d - 1) * (d - 2) * (d + 2) * (d + 4)),
    (2, 1): -1 / (d * (d - 1) * (d - 2) * (d + 4)),
    (3,): 2 / (d * (d - 1) * (d - 2) * (d + 2) * (d + 4)),
}

LIT_UNITARY = {  # Collins 2003, Sec. 2; Collins & Śniady 2006
    (1,): 1 / d,
    (1, 1): 1 / (d ** 2 - 1),
    (2,): -1 / (d * (d ** 2 - 1)),
    (1, 1, 1): (d ** 2 - 2) / (d * (d ** 2 - 1) * (d ** 2 - 4)),
    (2, 1): -1 / ((d ** 2 - 1) * (d ** 2 - 4)),
    (3,): 2 / (d * (d ** 2 - 1) * (d ** 2 - 4)),
}


@pytest.mark.parametrize("mu", sorted(LIT_ORTHOGONAL))
def test_orthogonal_literature_values(mu):
    assert same(weingarten_orthogonal(mu, d), LIT_ORTHOGONAL[mu])


@pytest.mark.parametrize("rho", sorted(LIT_UNITARY))
def test_unitary_literature_values(rho):
    assert same(weingarten_unitary(rho, d), LIT_UNITARY[rho])


def test_literature_values_agree_with_naive_symbolic_gram_inverse():
    for k in (1, 2, 3):
        ref = weingarten_orthogonal_naive(k, d)
        assert set(ref) == set(partitions(k))
        for mu, val in ref.items():
            assert same(val, LIT_ORTHOGONAL[mu]), mu
    for k in (1, 2, 3):
        ref = weingarten_unitary_naive(k, d)
        for rho, val in ref.items():
            assert same(val, LIT_UNITARY[rho]), rho


def test_symbolic_output_is_factored_and_integer_output_exact():
    expr = weingarten_orthogonal((2, 1), d)
    assert expr == sympy.factor(expr)
    assert weingarten_orthogonal((1, 1), 5) == Fraction(6, 5 * 4 * 7)
    assert isinstance(weingarten_unitary((2,), 3), Fraction)
    assert weingarten_unitary((2,), 3) == Fraction(-1, 24)


# ----------------------------------------------------------------------------- naive reference

@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("dim", range(1, 9))
def test_orthogonal_matches_naive_gram_pseudo_inverse(k, dim):
    assert weingarten_orthogonal_table(k, dim) == weingarten_orthogonal_naive(k, dim)


@pytest.mark.parametrize("dim", [2, 6])  # d = 2 < k: singular Gram matrix, pseudo-inverse
def test_orthogonal_matches_naive_k4(dim):
    assert weingarten_orthogonal_table(4, dim) == weingarten_orthogonal_naive(4, dim)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("dim", [1, 2, 3, 5, 6])
def test_unitary_matches_naive_gram_pseudo_inverse(k, dim):
    assert weingarten_unitary_table(k, dim) == weingarten_unitary_naive(k, dim)


# ----------------------------------------------------------------------------- orthogonality

def _gram_and_wg(k, dim):
    """Gram matrix G and L * Wg (integer entries, L = common denominator) over the pairings."""
    P = pairings(2 * k)
    types = [[pairing_coset_type(p, q) for q in P] for p in P]
    table = weingarten_orthogonal_table(k, dim)
    L = 1
    for v in table.values():
        L = L * v.denominator // gcd(L, v.denominator)
    G = np.array([[dim ** len(t) for t in row] for row in types], dtype=object)
    LW = np.array([[int(table[t] * L) for t in row] for row in types], dtype=object)
    return G, LW, L


@pytest.mark.parametrize("k,dim", [(1, 1), (2, 2), (2, 7), (3, 3), (3, 10), (4, 4), (4, 9)])
def test_orthogonality_relation_gram_times_wg_is_identity(k, dim):
    G, LW, L = _gram_and_wg(k, dim)
    assert (G.dot(LW) == L * np.eye(G.shape[0], dtype=int).astype(object)).all()


@pytest.mark.parametrize("k,dim", [(2, 1), (3, 1), (3, 2), (4, 2), (4, 3)])
def test_pseudo_inverse_properties_for_small_d(k, dim):
    G, LW, L = _gram_and_wg(k, dim)
    LGW = G.dot(LW)
    assert not (LGW == L * np.eye(G.shape[0], dtype=int).astype(object)).all()  # G singular
    assert (LGW.dot(G) == L * G).all()             # G Wg G = G
    assert (LW.dot(LGW) == L * LW).all()           # Wg G Wg = Wg
    assert (LGW == LGW.T).all()                    # G Wg symmetric: Moore–Penrose


# ----------------------------------------------------------------------------- zonal functions

def _hyperoctahedral(k):
    """H_k: permutations of S_2k commuting with the pairing {0,1}{2,3}... ."""
    out = []
    for perm in permutations(range(k)):
        for flips in range(2 ** k):
            img = [0] * (2 * k)
            for i, j in enumerate(perm):
                f = (flips >> i) & 1
                img[2 * i], img[2 * i + 1] = 2 * j + f, 2 * j + 1 - f
            out.append(tuple(img))
    return out


@pytest.mark.parametrize("k", [1, 2, 3])
def test_zonal_spherical_functions_match_definition(k):
    """omega^lambda(sigma) = |H_k|^-1 sum_{zeta in H_k} chi^{2 lambda}(sigma zeta) (Macdonald
    VII.2), with characters from Murnaghan–Nakayama, for a representative of every coset type."""
    H = _hyperoctahedral(k)
    assert len(H) == 2 ** k * factorial(k)
    reps = {}
    for sigma in permutations(range(2 * k)):
        reps.setdefault(coset_type(sigma), sigma)
    assert set(reps) == set(partitions(k))
    for lam in partitions(k):
        two_lam = tuple(2 * x for x in lam)
        for mu, sigma in reps.items():
            total = sum(character(two_lam, cycle_type(tuple(sigma[z[i]] for i in range(2 * k))))
                        for z in H)
            assert Fraction(total, len(H)) == zonal_spherical_function(lam, mu)


def test_zonal_polynomial_at_ones():
    """Z_lambda(1^d) = sum_rho [p_rho] Z_lambda d^{ell(rho)} equals prod (d + 2j - i - 1)."""
    from depthcheck.theory._symmetric_group import jack_power_sum_expansion

    for k in range(1, 7):
        for lam, coeffs in jack_power_sum_expansion(k, 2).items():
            lhs = sum(c * d ** len(rho) for rho, c in coeffs.items())
            rhs = prod(d + 2 * j - i for i, row in enumerate(lam) for j in range(row))
            assert sympy.expand(lhs - rhs) == 0, lam


# ----------------------------------------------------------------------------- permutations

@given(st.integers(1, 4).flatmap(lambda k: st.tuples(st.permutations(range(2 * k)),
                                                     st.permutations(range(2 * k)))),
       st.integers(0, 10 ** 6), st.integers(0, 10 ** 6), st.integers(4, 9))
def test_permutation_input_is_a_double_coset_function(perms, i1, i2, dim):
    sigma, tau = perms
    k = len(sigma) // 2
    val = weingarten_orthogonal(tuple(sigma), dim)
    assert val == weingarten_orthogonal(coset_type(sigma), dim)
    H = _hyperoctahedral(k)
    z1, z2 = H[i1 % len(H)], H[i2 % len(H)]
    moved = tuple(z1[sigma[z2[i]]] for i in range(2 * k))
    assert weingarten_orthogonal(moved, dim) == val
    # Collins–Śniady weight of the pairings sigma(eps), tau(eps): coset type of sigma^-1 tau
    eps_s, eps_t, inv = [0] * (2 * k), [0] * (2 * k), [0] * (2 * k)
    for i in range(0, 2 * k, 2):
        eps_s[sigma[i]], eps_s[sigma[i + 1]] = sigma[i + 1], sigma[i]
        eps_t[tau[i]], eps_t[tau[i + 1]] = tau[i + 1], tau[i]
    for i, s in enumerate(sigma):
        inv[s] = i
    assert coset_type(tuple(inv[tau[i]] for i in range(2 * k))) == \
        pairing_coset_type(tuple(eps_s), tuple(eps_t))


@given(st.integers(1, 5).flatmap(lambda k: st.tuples(st.permutations(range(k)),
                                                     st.permutations(range(k)))),
       st.integers(5, 9))
def test_unitary_permutation_input_is_a_class_function(perms, dim):
    sigma, pi = perms
    conj = [0] * len(sigma)
    for i in range(len(sigma)):
        conj[pi[i]] = pi[sigma[i]]
    assert weingarten_unitary(tuple(conj), dim) == weingarten_unitary(tuple(sigma), dim)
    assert weingarten_unitary(tuple(sigma), dim) == weingarten_unitary(cycle_type(sigma), dim)


# ----------------------------------------------------------------------------- float & asymptotics

def test_float_evaluation_matches_exact_over_many_d():
    ds = np.array(list(range(1, 40)) + [100, 1000, 12345, 10 ** 6, 10 ** 9])
    for k in range(1, 6):
        for mu in partitions(k):
            for fn in (weingarten_orthogonal, weingarten_unitary):
                got = fn(mu, ds)
                assert got.shape == ds.shape and got.dtype == np.float64
                exact = np.array([float(fn(mu, int(x))) for x in ds])
                np.testing.assert_allclose(got, exact, rtol=1e-13, atol=0)
    got = haar_moment_orthogonal((0, 0, 1, 1), (0, 1, 0, 1), np.array([[2, 3], [4, 50]]))
    assert got.shape == (2, 2)
    assert got[1, 1] == pytest.approx(-1 / (50 * 49 * 52), rel=1e-14)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_asymptotics_leading_term_relative_error_is_order_one_over_d(k):
    for mu in partitions(k):
        for exact_fn, asym_fn in ((weingarten_orthogonal, weingarten_orthogonal_asymptotic),
                                  (weingarten_unitary, weingarten_unitary_asymptotic)):
            rel = [abs(float(exact_fn(mu, x) / asym_fn(mu, x)) - 1) for x in (10 ** 3, 10 ** 4)]
            assert rel[0] < 50.0 / 10 ** 3, (mu, rel)   # O(1/d) with a modest constant
            assert rel[1] < rel[0] / 8 + 1e-15, (mu, rel)  # and it really decays like 1/d
    # the sign and power are not trivial: (2,) is -d^-3, (3,) is +2 d^-5
    assert weingarten_orthogonal_asymptotic((2,), d) == -d ** -3
    assert weingarten_orthogonal_asymptotic((3,), d) == 2 * d ** -5


# ----------------------------------------------------------------------------- moments

def _column_moment_expected(m, dim):
    M = sum(m)
    return Fraction(prod(double_factorial(2 * x - 1) for x in m),
                    prod(dim + 2 * t for t in range(M))) if isinstance(dim, int) else \
        sympy.Integer(prod(double_factorial(2 * x - 1) for x in m)) / \
        prod(dim + 2 * t for t in range(M))


@given(st.lists(st.integers(1, 3), min_size=1, max_size=3).filter(lambda m: sum(m) <= 4),
       st.integers(1, 9))
def test_column_moments_of_a_uniform_sphere_vector(m, dim):
    """E[prod_i O_{i1}^{2 m_i}] = prod (2 m_i - 1)!! / (d (d+2) ... (d + 2M - 2)), valid for every
    d >= number of rows (including d < k, where only the pseudo-inverse is correct)."""
    if len(m) > dim:
        return
    rows = tuple(i for i, x in enumerate(m) for _ in range(2 * x))
    cols = (0,) * len(rows)
    assert haar_moment_orthogonal(rows, cols, dim) == _column_moment_expected(m, dim)
    assert haar_moment_orthogonal(cols, rows, dim) == _column_moment_expected(m, dim)  # O^T


def test_column_moments_symbolic():
    for m in ([1], [2], [1, 1], [3, 1], [2, 2], [2, 1, 1]):
        rows = tuple(i for i, x in enumerate(m) for _ in range(2 * x))
        assert same(haar_moment_orthogonal(rows, (0,) * len(rows), d),
                    _column_moment_expected(m, d))


def test_unitary_column_moments():
    """E|U_11|^{2k} = k! (d-1)! / (d+k-1)! (complex sphere), also for d < k."""
    for k in range(1, 6):
        for dim in range(1, 7):
            got = haar_moment_unitary((0,) * k, (0,) * k, (0,) * k, (0,) * k, dim)
            assert got == Fraction(factorial(k) * factorial(dim - 1), factorial(dim + k - 1))


def _fpf_lis_count(n, bound):
    """Fixed-point-free involutions of [n] whose longest increasing subsequence <= bound."""
    def lis(w):
        tails = []
        for x in w:
            import bisect
            i = bisect.bisect_left(tails, x)
            tails[i:i + 1] = [x]
        return len(tails)
    return sum(1 for p in pairings(n) if lis(p) <= bound)


def _perm_lis_count(k, bound):
    import bisect
    count = 0
    for w in permutations(range(k)):
        tails = []
        for x in w:
            i = bisect.bisect_left(tails, x)
            tails[i:i + 1] = [x]
        count += len(tails) <= bound
    return count


def _trace_power_orthogonal(k, dim):
    """E[(tr O)^{2k}] summed over all d^{2k} diagonal index tuples."""
    total = Fraction(0)
    for idx in np.ndindex(*(dim,) * (2 * k)):
        total += haar_moment_orthogonal(idx, idx, dim)
    return total


@pytest.mark.parametrize("k,dim", [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (2, 4), (3, 1), (3, 2),
                                   (3, 3), (3, 4), (4, 2), (4, 3)])
def test_trace_moments_orthogonal(k, dim):
    """E[(tr O)^{2k}] = (2k-1)!! for d >= k (so in particular for d >= 2k, Diaconis–Shahshahani
    1994), and for d < k the number of fixed-point-free involutions of [2k] without increasing
    subsequence longer than d (Rains 1998, Electron. J. Combin. 5, R12)."""
    got = _trace_power_orthogonal(k, dim)
    assert got == _fpf_lis_count(2 * k, dim)
    if dim >= k:
        assert got == double_factorial(2 * k - 1)
    assert sum(haar_moment_orthogonal(i, i, dim) for i in np.ndindex(*(dim,) * 3)) == 0


def _set_partitions(n):
    """Restricted growth strings of length n (the set partitions of [n])."""
    def rec(prefix, m):
        if len(prefix) == n:
            yield tuple(prefix)
            return
        for b in range(m + 2):
            yield from rec(prefix + [b], max(m, b))
    yield from rec([0], 0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_trace_moment_symbolic_identity(k):
    """sum over index patterns pi of (d)_{|pi|} E[prod O_{pi pi}] is identically (2k-1)!!."""
    total = 0
    for rgs in _set_partitions(2 * k):
        blocks = max(rgs) + 1
        total += prod(d - t for t in range(blocks)) * haar_moment_orthogonal(rgs, rgs, d)
    assert same(total, double_factorial(2 * k - 1))


@pytest.mark.parametrize("k,dim", [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (4, 2)])
def test_trace_moments_unitary(k, dim):
    """E|tr U|^{2k} = number of permutations of S_k with longest increasing subsequence <= d
    (Rains 1998), = k! for d >= k (Diaconis–Shahshahani 1994)."""
    total = Fraction(0)
    for i in np.ndindex(*(dim,) * k):
        for j in np.ndindex(*(dim,) * k):
            total += haar_moment_unitary(i, i, j, j, dim)
    assert total == _perm_lis_count(k, dim)


monomial = st.integers(1, 6).flatmap(
    lambda m: st.tuples(st.lists(st.integers(0, 2), min_size=m, max_size=m),
                        st.lists(st.integers(0, 2), min_size=m, max_size=m)))


@given(monomial, st.integers(3, 7), st.randoms(use_true_random=False))
def test_moment_symmetries(mono, dim, rnd):
    rows, cols = mono
    val = haar_moment_orthogonal(rows, cols, dim)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    assert haar_moment_orthogonal([rows[i] for i in order], [cols[i] for i in order], dim) == val
    assert haar_moment_orthogonal(cols, rows, dim) == val  # O^T is Haar
    relabel = list(range(dim))
    rnd.shuffle(relabel)
    assert haar_moment_orthogonal([relabel[r] for r in rows], cols, dim) == val  # P O is Haar
    if any(rows.count(r) % 2 for r in set(rows)):
        assert val == 0  # D O is Haar for diagonal sign matrices D
    assert abs(val) <= 1


def test_unitary_moment_examples():
    assert same(haar_moment_unitary((0,), (0,), (0,), (0,), d), 1 / d)
    assert same(haar_moment_unitary((0, 1), (0, 1), (0, 1), (1, 0), d), -1 / (d * (d ** 2 - 1)))
    assert same(haar_moment_unitary((0, 1), (0, 1), (0, 1), (0, 1), d), 1 / (d ** 2 - 1))
    assert haar_moment_unitary((0,), (0,), (), (), 4) == 0
    assert haar_moment_unitary((0, 0), (0, 0), (1, 1), (0, 0), 4) == 0


# ----------------------------------------------------------------------------- seed 001, Theorem 3

def test_degree_four_moments_of_theorem_3():
    """bn_orthogonal.md §4.3: the moments used in the proof of seed 001's Theorem 3."""
    assert same(haar_moment_orthogonal((0, 0, 0, 0), (0, 0, 0, 0), d), 3 / (d * (d + 2)))
    assert same(haar_moment_orthogonal((0, 0, 0, 0), (0, 0, 1, 1), d), 1 / (d * (d + 2)))
    assert same(haar_moment_orthogonal((0, 0, 1, 1), (0, 0, 0, 0), d), 1 / (d * (d + 2)))
    assert same(haar_moment_orthogonal((0, 0, 1, 1), (0, 0, 1, 1), d),
                (d + 1) / (d * (d - 1) * (d + 2)))
    assert same(haar_moment_orthogonal((0, 0, 1, 1), (0, 1, 0, 1), d),
                -1 / (d * (d - 1) * (d + 2)))
    # the paper's route: E[O_11^4] = 3 Wg(1,1) + 6 Wg(2), E[O_11^2 O_12^2] = Wg(1,1) + 2 Wg(2)
    w11, w2 = weingarten_orthogonal((1, 1), d), weingarten_orthogonal((2,), d)
    assert same(3 * w11 + 6 * w2, 3 / (d * (d + 2)))
    assert same(w11 + 2 * w2, 1 / (d * (d + 2)))


def test_mean_square_row_norm_symbolic_identity():
    """E[(1/d) sum_i a_i^2] = ((sum lambda)^2 + 2 sum lambda^2)/(d(d+2)), and with the BN trace
    condition sum lambda = d this is the paper's (d^2 + 2 sum lambda^2)/(d(d+2))
    = 1 + 2 sum (lambda_k - 1)^2 / (d(d+2)) (bn_orthogonal.md §4.1)."""
    lam = sympy.symbols("l1:5")
    p1, p2 = sum(lam), sum(x ** 2 for x in lam)
    got = expected_mean_square_row_norm(lam, d)
    assert same(got, (p1 ** 2 + 2 * p2) / (d * (d + 2)))
    dim = 5
    lam5 = sympy.symbols("m1:6")
    on_trace = {lam5[-1]: dim - sum(lam5[:-1])}
    got5 = expected_mean_square_row_norm(lam5, dim).subs(on_trace)
    p2_5 = sum(x ** 2 for x in lam5).subs(on_trace)
    assert same(got5, (dim ** 2 + 2 * p2_5) / (dim * (dim + 2)))
    assert same(got5, 1 + 2 * sum((x - 1) ** 2 for x in lam5).subs(on_trace) / (dim * (dim + 2)))


def test_mean_square_row_norm_exact_values():
    lam = [Fraction(1, 2), Fraction(3, 2), Fraction(2), Fraction(1)]  # sum = d = 5 with a zero
    dim = 5
    p2 = sum(x * x for x in lam)
    assert expected_mean_square_row_norm(lam, dim) == (dim ** 2 + 2 * p2) / (dim * (dim + 2))
    assert expected_mean_square_row_norm([1] * dim, dim) == 1  # X X^T = I: no fluctuation


def test_mean_square_row_norm_monte_carlo():
    """Sampled Haar W: mean of (1/d) sum_i a_i^2, a_i = ||e_i^T W X||^2, within 5 s.e."""
    rng = np.random.default_rng(20240605)
    dim, n = 5, 20000
    lam = np.array([0.2, 0.5, 0.8, 1.5, 2.0])
    X = np.diag(np.sqrt(lam)) @ np.linalg.qr(rng.standard_normal((dim, dim)))[0]  # X X^T = diag
    W = sample_orthogonal((n,), dim, rng)
    a = ((W @ X) ** 2).sum(axis=-1)
    stat = (a ** 2).mean(axis=-1)
    exact = float(expected_mean_square_row_norm([Fraction(x).limit_denominator(10) for x in lam],
                                                dim))
    assert exact == pytest.approx((dim ** 2 + 2 * (lam ** 2).sum()) / (dim * (dim + 2)), rel=1e-14)
    se = stat.std(ddof=1) / np.sqrt(n)
    assert abs(stat.mean() - exact) < 5 * se
    # power: the naive guess E = 1 (no fluctuation) is rejected
    assert abs(stat.mean() - 1.0) > 5 * se


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("bad_d", [0, -3, True, 2.5, "d", None, np.array([1, 0]),
                                   np.array([1.5]), np.array([np.nan]), np.array([])])
def test_bad_d_raises(bad_d):
    with pytest.raises(ValueError, match="d"):
        weingarten_orthogonal((1, 1), bad_d)


@pytest.mark.parametrize("bad", [(), (0, 2), (1, 0, 1), (0, 1, 2), (1, -1), ("a",), 3, (1.0, 1)])
def test_bad_coset_type_raises(bad):
    with pytest.raises(ValueError, match="coset_type"):
        weingarten_orthogonal(bad, 5)


def test_bad_moment_indices_raise():
    with pytest.raises(ValueError, match="rows"):
        haar_moment_orthogonal((0, 5), (0, 0), 5)
    with pytest.raises(ValueError, match="same length"):
        haar_moment_orthogonal((0, 1), (0,), 5)
    with pytest.raises(ValueError, match="cols"):
        haar_moment_orthogonal((0, 1), (0, -1), 5)
    with pytest.raises(ValueError, match="i2"):
        haar_moment_unitary((0,), (0,), (7,), (0,), 3)
    with pytest.raises(ValueError, match="eigenvalues"):
        expected_mean_square_row_norm([1, 1, 1], 2)
    with pytest.raises(ValueError, match="eigenvalues"):
        expected_mean_square_row_norm([1.0, float("nan")], 2)
