"""Validate a Haar sampler against exact joint moments of its matrix entries.

``check_haar_sampler`` draws index monomials of degree <= ``max_degree``, computes their exact
Haar expectations with the Weingarten calculus (``depthcheck.theory.weingarten``: Collins & Śniady 2006,
Collins & Matsumoto 2009), estimates the same expectations from the sampler's output, and judges
every monomial by a z-score z = (sample mean - exact) / standard error.

Decision rule (Bonferroni). With m tests (one per monomial for O(d); two per monomial for U(d),
real and imaginary part), the nominal ``z`` (default 5) fixes the family-wise false-alarm
probability alpha = 2 Phi(-z) (5.7e-7 for z = 5), and each test uses the threshold
t = Phi^{-1}(1 - alpha / (2 m)), i.e. the per-test two-sided level alpha / m. A correct sampler
then fails with probability <= alpha (up to the normal approximation of the sample mean, which is
sharp here because every monomial is bounded by 1 in absolute value and n_samples is large).

Some monomials are always included because they expose the classic bug of taking Q from
``numpy.linalg.qr`` without the sign (phase) fix of Mezzadri (2007, §5): LAPACK's Householder QR
returns Q_11 = -|Z_11| / ||Z_:1|| <= 0, so E[O_11] != 0 = exact; further fixed ones are
O_11^2, O_11 O_22, O_11^4, O_11 O_12 O_21 O_22, and O_11 O_22 ... O_dd when d <= max_degree
(whose mean is 1/d! on SO(d) and 0 on O(d): it tells the two groups apart).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np
from scipy.stats import norm

from depthcheck.theory._checks import check_choice, check_generator, check_positive_int
from depthcheck.theory.weingarten import haar_moment_orthogonal, haar_moment_unitary

__all__ = [
    "MonomialMoment",
    "MomentCheckResult",
    "bonferroni_threshold",
    "random_monomials",
    "check_haar_sampler",
]

_GROUPS = ("orthogonal", "unitary")


@dataclass(frozen=True)
class MonomialMoment:
    """One monomial prod_m X[rows[m], cols[m]] * prod_m conj(X[conj_rows[m], conj_cols[m]])
    (``conj_*`` empty for O(d)), with its exact Haar mean and the sampler's estimate."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    conj_rows: tuple[int, ...]
    conj_cols: tuple[int, ...]
    exact: Fraction
    mean: float
    stderr: float
    z: float
    mean_imag: float = 0.0
    stderr_imag: float = 0.0
    z_imag: float = 0.0

    @property
    def degree(self) -> int:
        return len(self.rows) + len(self.conj_rows)

    @property
    def max_abs_z(self) -> float:
        return max(abs(self.z), abs(self.z_imag))

    def label(self) -> str:
        def fmt(r, c, bar):
            return " ".join(f"{'conj ' if bar else ''}X[{a},{b}]" for a, b in zip(r, c))
        parts = [fmt(self.rows, self.cols, False), fmt(self.conj_rows, self.conj_cols, True)]
        return " ".join(p for p in parts if p) or "1"


@dataclass(frozen=True)
class MomentCheckResult:
    """Outcome of ``check_haar_sampler``: ``passed`` iff every |z| <= ``threshold``."""

    group: str
    d: int
    n_samples: int
    z: float
    threshold: float
    n_tests: int
    monomials: tuple[MonomialMoment, ...] = field(repr=False)
    passed: bool = False

    @property
    def max_abs_z(self) -> float:
        return max(m.max_abs_z for m in self.monomials)

    @property
    def worst(self) -> MonomialMoment:
        return max(self.monomials, key=lambda m: m.max_abs_z)

    def summary(self, n: int = 10) -> str:
        """A small text table of the ``n`` monomials with the largest |z|."""
        head = (f"{self.group} d={self.d} n_samples={self.n_samples} tests={self.n_tests} "
                f"threshold={self.threshold:.2f} max|z|={self.max_abs_z:.2f} "
                f"{'PASS' if self.passed else 'FAIL'}")
        rows = sorted(self.monomials, key=lambda m: -m.max_abs_z)[:n]
        lines = [head] + [f"  {m.label():<48} exact={float(m.exact):+.6f} mean={m.mean:+.6f} "
                          f"se={m.stderr:.2e} z={m.z:+.2f}" +
                          (f" z_im={m.z_imag:+.2f}" if self.group == "unitary" else "")
                          for m in rows]
        return "\n".join(lines)


def bonferroni_threshold(z: float, n_tests: int) -> float:
    """Per-test |z| threshold t with 2 n_tests Phi(-t) = 2 Phi(-z): family-wise level of the
    nominal two-sided z-test split evenly over ``n_tests`` tests (t = z for one test)."""
    if not np.isfinite(z) or z <= 0:
        raise ValueError(f"z must be a positive finite number, got {z!r}")
    n_tests = check_positive_int(n_tests, "n_tests")
    return float(norm.isf(norm.sf(z) / n_tests))


def _even_labels(rng, length, pool):
    """A random label sequence of even ``length`` in which every label occurs an even number
    of times (so the exact orthogonal moment is typically non-zero)."""
    half = rng.integers(0, pool, size=length // 2)
    labels = np.concatenate([half, half])
    rng.shuffle(labels)
    return tuple(int(x) for x in labels)


def random_monomials(d: int, rng: np.random.Generator, *, n_monomials: int, max_degree: int,
                     group: str = "orthogonal", pool: int = 3) -> list[tuple]:
    """Fixed sign-fix-sensitive monomials plus ``n_monomials`` distinct random ones (fewer if
    fewer distinct monomials exist, e.g. d = 1), as index tuples.

    Orthogonal: (rows, cols); unitary: (i, j, i2, j2) with U factors at (i, j) and conjugated
    factors at (i2, j2). Indices are drawn from range(min(d, pool)) so that repeated indices
    (hence non-zero moments) are frequent; half of the random ones have every index repeated an
    even number of times (orthogonal) or balanced conjugates (unitary), the other half are
    arbitrary (mostly exact mean 0, which a biased sampler violates).
    """
    d = check_positive_int(d, "d")
    rng = check_generator(rng)
    check_choice(group, "group", _GROUPS)
    max_degree = check_positive_int(max_degree, "max_degree")
    n_monomials = check_positive_int(n_monomials, "n_monomials")
    p = min(d, check_positive_int(pool, "pool"))
    if group == "orthogonal":
        fixed = [((0,), (0,)), ((0, 0), (0, 0)), ((0, 0, 0, 0), (0, 0, 0, 0))]
        if d >= 2:
            fixed += [((0, 1), (0, 1)), ((0, 0, 1, 1), (0, 1, 0, 1))]
        if d <= max_degree:
            fixed.append((tuple(range(d)), tuple(range(d))))
        out, seen = _distinct([m for m in fixed if len(m[0]) <= max_degree])
        target = len(out) + n_monomials
        for _ in range(100 * target):  # bounded: few distinct monomials exist for tiny d
            if len(out) >= target:
                break
            deg = int(rng.integers(1, max_degree + 1))
            if deg % 2 == 0 and rng.random() < 0.5:
                rows, cols = _even_labels(rng, deg, p), _even_labels(rng, deg, p)
            else:
                rows = tuple(int(x) for x in rng.integers(0, p, size=deg))
                cols = tuple(int(x) for x in rng.integers(0, p, size=deg))
            if _monomial_key((rows, cols)) not in seen:
                seen.add(_monomial_key((rows, cols)))
                out.append((rows, cols))
        return out
    fixed = [((0,), (0,), (), ()), ((0,), (0,), (0,), (0,)), ((0, 0), (0, 0), (), ())]
    if d >= 2:
        fixed += [((0, 1), (0, 1), (0, 1), (1, 0)), ((0, 1), (0, 1), (), ())]
    out, seen = _distinct([m for m in fixed if len(m[0]) + len(m[2]) <= max_degree])
    target = len(out) + n_monomials
    for _ in range(100 * target):
        if len(out) >= target:
            break
        if max_degree >= 2 and rng.random() < 0.6:
            k = int(rng.integers(1, max_degree // 2 + 1))
            i = tuple(int(x) for x in rng.integers(0, p, size=k))
            j = tuple(int(x) for x in rng.integers(0, p, size=k))
            i2 = tuple(int(x) for x in rng.permutation(i))
            j2 = tuple(int(x) for x in rng.permutation(j))
        else:
            k = int(rng.integers(1, max_degree + 1))
            k2 = int(rng.integers(0, max_degree - k + 1))
            i, j = (tuple(int(x) for x in rng.integers(0, p, size=k)) for _ in range(2))
            i2, j2 = (tuple(int(x) for x in rng.integers(0, p, size=k2)) for _ in range(2))
        if _monomial_key((i, j, i2, j2)) not in seen:
            seen.add(_monomial_key((i, j, i2, j2)))
            out.append((i, j, i2, j2))
    return out


def _distinct(monos):
    out, seen = [], set()
    for m in monos:
        if _monomial_key(m) not in seen:
            seen.add(_monomial_key(m))
            out.append(m)
    return out, seen


def _monomial_key(mono) -> tuple:
    """The monomial as a multiset of factors (order of factors is irrelevant)."""
    plain = tuple(sorted(zip(mono[0], mono[1])))
    conj = tuple(sorted(zip(mono[2], mono[3]))) if len(mono) == 4 else ()
    return plain, conj


def _parse_monomial(mono, group, d):
    try:
        parts = tuple(tuple(int(x) for x in part) for part in mono)
    except (TypeError, ValueError):
        raise ValueError(f"monomials: cannot read {mono!r} as index tuples") from None
    want = 2 if group == "orthogonal" else 4
    if len(parts) != want:
        raise ValueError(f"monomials: a {group} monomial is {want} index tuples, got {mono!r}")
    if group == "unitary" and (len(parts[0]) != len(parts[1]) or len(parts[2]) != len(parts[3])):
        raise ValueError(f"monomials: (i, j) and (i2, j2) must have equal lengths, got {mono!r}")
    if group == "orthogonal" and len(parts[0]) != len(parts[1]):
        raise ValueError(f"monomials: rows and cols must have equal lengths, got {mono!r}")
    if any(x < 0 or x >= d for part in parts for x in part):
        raise ValueError(f"monomials: index out of range for d={d} in {mono!r}")
    if group == "orthogonal":
        parts = parts + ((), ())
    return parts


class _Moments:
    """Streaming mean and variance (Chan et al. pairwise update) of a stack of statistics."""

    def __init__(self, n_stats: int):
        self.n = 0
        self.mean = np.zeros(n_stats)
        self.m2 = np.zeros(n_stats)

    def update(self, x: np.ndarray) -> None:  # x: (n_chunk, n_stats)
        nb = x.shape[0]
        mb = x.mean(axis=0)
        m2b = ((x - mb) ** 2).sum(axis=0)
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta ** 2 * (self.n * nb / n)
        self.n = n


def _zscore(mean, exact, se):
    if se > 0:
        return (mean - exact) / se
    return 0.0 if abs(mean - exact) <= 1e-12 else float(np.copysign(np.inf, mean - exact))


def check_haar_sampler(sampler: Callable[[int, np.random.Generator], np.ndarray], d: int,
                       rng: np.random.Generator, *, n_samples: int = 20_000,
                       max_degree: int = 8, n_monomials: int = 40, group: str = "orthogonal",
                       z: float = 5.0, monomials=None, chunk_size: int | None = None
                       ) -> MomentCheckResult:
    """Test ``sampler`` against exact Haar moments on O(d) or U(d).

    ``sampler(n, rng)`` must return an array of shape (n, d, d) (real for O(d), complex for
    U(d)) of independent draws. ``rng`` is split (``Generator.spawn``) into one stream choosing
    the random monomials and one passed to the sampler. ``monomials`` overrides the random
    choice: a list of (rows, cols) for O(d) or (i, j, i2, j2) for U(d) (0-based). Draws are made
    in chunks of ``chunk_size`` (default: about 4M matrix entries per chunk).

    For each monomial X_{r1 c1} ... X_{rm cm} (times conjugates for U(d)), the exact mean comes
    from ``depthcheck.theory.weingarten.haar_moment_orthogonal`` / ``haar_moment_unitary`` and the estimate
    is the sample mean with standard error s / sqrt(n). ``passed`` iff every |z| is at most the
    Bonferroni threshold of the nominal ``z`` over all tests (see the module docstring).

    Parameters
    ----------
    sampler : callable
        ``sampler(n, rng) -> (n, d, d)`` independent draws.
    d : int
        Matrix size.
    rng : numpy.random.Generator
    n_samples : int
        Draws (>= 2). max_degree, n_monomials : size of the random monomial set.
    group : {"orthogonal", "unitary"}
    z : float
        Nominal two-sided z threshold before the Bonferroni correction.
    monomials : list, optional
        Explicit monomials instead of random ones. chunk_size : draws per chunk.

    Returns
    -------
    MomentCheckResult
        ``passed``, the per-monomial exact means, estimates, standard errors and z-scores.

    Raises
    ------
    ValueError
        Naming the argument: a non-callable ``sampler``, bad sizes, an unknown ``group``, an
        empty or malformed ``monomials`` list.

    References
    ----------
    B. Collins and P. Śniady, "Integration with respect to the Haar measure on unitary,
    orthogonal and symplectic group", Comm. Math. Phys. 264, 2006 (arXiv:math-ph/0402073): the
    Weingarten formula behind the exact moments. Meterez et al. (arXiv:2310.02012) use this
    calculus in the proof of their Theorem 3.

    Examples
    --------
    A sampler without the sign fix (numpy's raw QR factor) fails; the Haar sampler passes:

    >>> import numpy as np
    >>> from depthcheck.kernels.random.haar import sample_orthogonal
    >>> mono = [((0,), (0,))]                     # E[W_11] = 0 under Haar
    >>> good = check_haar_sampler(lambda n, r: sample_orthogonal((n,), 3, r), 3,
    ...                           np.random.default_rng(0), n_samples=4000, monomials=mono)
    >>> bad = check_haar_sampler(lambda n, r: np.linalg.qr(r.standard_normal((n, 3, 3)))[0],
    ...                          3, np.random.default_rng(0), n_samples=4000, monomials=mono)
    >>> bool(good.passed), bool(bad.passed)
    (True, False)
    """
    if not callable(sampler):
        raise ValueError(f"sampler must be callable as sampler(n, rng), got {sampler!r}")
    d = check_positive_int(d, "d")
    rng = check_generator(rng)
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    group = check_choice(group, "group", _GROUPS)
    if not (isinstance(z, (int, float)) and np.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive finite number, got {z!r}")
    rng_monomials, rng_sampler = rng.spawn(2)
    if monomials is None:
        monomials = random_monomials(d, rng_monomials, n_monomials=n_monomials,
                                     max_degree=max_degree, group=group)
    monos = [_parse_monomial(m, group, d) for m in monomials]
    if not monos:
        raise ValueError("monomials is empty")
    if chunk_size is None:
        chunk_size = max(1, min(n_samples, (1 << 22) // (d * d)))
    chunk_size = check_positive_int(chunk_size, "chunk_size")

    if group == "orthogonal":
        exact = [haar_moment_orthogonal(r, c, d) for r, c, _, _ in monos]
    else:
        exact = [haar_moment_unitary(i, j, i2, j2, d) for i, j, i2, j2 in monos]

    n_stats = len(monos) * (2 if group == "unitary" else 1)  # unitary: real and imaginary parts
    acc = _Moments(n_stats)
    done = 0
    while done < n_samples:
        n = min(chunk_size, n_samples - done)
        X = np.asarray(sampler(n, rng_sampler))
        if X.shape != (n, d, d):
            raise ValueError(f"sampler(n={n}, rng) returned shape {X.shape}, expected {(n, d, d)}")
        if group == "orthogonal" and np.iscomplexobj(X):
            raise ValueError("sampler returned complex matrices for group='orthogonal'")
        if not np.all(np.isfinite(X)):
            raise ValueError("sampler returned NaN or inf entries")
        X = X.astype(np.complex128 if group == "unitary" else np.float64, copy=False)
        vals = np.empty((n, len(monos)), dtype=X.dtype)
        for col, (r, c, r2, c2) in enumerate(monos):
            val = np.prod(X[:, r, c], axis=1) if r else np.ones(n, dtype=X.dtype)
            if r2:
                val = val * np.prod(np.conj(X[:, r2, c2]), axis=1)
            vals[:, col] = val
        acc.update(np.concatenate([vals.real, vals.imag], axis=1) if group == "unitary" else vals)
        done += n

    se_all = np.sqrt(acc.m2 / (n_samples - 1) / n_samples)
    results = []
    for idx, ((r, c, r2, c2), ex) in enumerate(zip(monos, exact)):
        mean, se = float(acc.mean[idx]), float(se_all[idx])
        z_re = _zscore(mean, float(ex), se)
        if group == "unitary":
            j = idx + len(monos)
            mean_im, se_im = float(acc.mean[j]), float(se_all[j])
            results.append(MonomialMoment(r, c, r2, c2, Fraction(ex), mean, se, z_re, mean_im,
                                          se_im, _zscore(mean_im, 0.0, se_im)))
        else:
            results.append(MonomialMoment(r, c, (), (), Fraction(ex), mean, se, z_re))
    threshold = bonferroni_threshold(float(z), n_stats)
    passed = all(m.max_abs_z <= threshold for m in results)
    return MomentCheckResult(group, d, n_samples, float(z), threshold, n_stats, tuple(results),
                             passed)
