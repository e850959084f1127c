"""Benchmarks of the fast kernels (issue 8): Haar layers, fused chains, the reduced chain, memory.

Every row times ours and a baseline in the same run. Baselines are timed with BLAS at its
default thread count AND limited to one thread, and the faster of the two is reported (on a
shared, loaded 2-core machine a 2-thread OpenBLAS can be 10x slower than 1 thread on small
matrices; reporting the faster keeps the ratios conservative). Where the full baseline would
take too long it is timed on a subset of trials and layers and extrapolated linearly in
(trials × layers); the row says so.

floor_s = flop count / R, with R the machine's matmul rate for the kernels' threads: the larger
of the best numpy matmul measured in this run (1000×1000 or 600×600 in quick mode, 1 or 2 BLAS
threads) and T·R1, numba's T threads each at the one-core rate R1 (process CPU time, steady):
on this 2-core VM the 2-thread dgemm sometimes runs at one core's rate for minutes (46 where it
is otherwise 86–91 GFLOP/s), which would halve every floor and ratio with it.

Flop counts: a Householder Haar layer applies d−1 reflections, Σ_k 4(d−k)n ≈ 2d²n flops per
trial (the issue's "4d²n" counts twice that; its target "within 2x of 4d²n/R" is
"ours_s <= 4·floor_s" here); the Gram HᵀH n²d (syrk) and its Cholesky n³/3. The reduced
rows add ``rng_floor_s`` (the normals the workload needs at our generator's measured rate) and
``floor_ratio_with_rng`` = ours_s / (floor_s + rng_floor_s), next to (not instead of)
``floor_ratio``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

__all__ = ["bench"]


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _blas_limits(n):
    try:
        from threadpoolctl import threadpool_limits
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    return threadpool_limits(n, user_api="blas")


def _best_threads(fn, repeat: int) -> tuple[float, str]:
    """Best time of ``fn`` with default BLAS threads and with 1 thread."""
    t_default = _best(fn, repeat)
    lim = _blas_limits(1)
    try:
        t_one = _best(fn, repeat)
    finally:
        if lim is not None:
            lim.restore_original_limits()
    return (t_one, "1 BLAS thread") if t_one < t_default else (t_default, "default BLAS threads")


def _row(workload, ours_s, baseline, baseline_s, flops=None, rate=None, **extra):
    return {
        "workload": workload,
        "ours_s": float(ours_s),
        "baseline": baseline,
        "baseline_s": None if baseline_s is None else float(baseline_s),
        "ratio": (float(baseline_s) / ours_s) if (baseline_s is not None and ours_s > 0) else None,
        "gflops": (flops / ours_s / 1e9) if flops else None,
        "floor_s": (flops / rate) if (flops and rate) else None,
        **extra,
    }


def _matmul_rate(quick: bool) -> float:
    m = 600 if quick else 1000
    A = np.random.default_rng(0).standard_normal((m, m))
    t, _ = _best_threads(lambda: A @ A, 3 if quick else 5)
    return 2.0 * m**3 / t


def _machine_rate(quick: bool) -> tuple[float, float, float, int]:
    """(R, measured, R1, T): the floors' rate R = max(measured, T·R1) (module docstring), the
    best measured numpy matmul rate, the one-core rate and numba's thread count."""
    import numba
    measured = _matmul_rate(quick)
    r1, threads = _one_core_rate(), numba.get_num_threads()
    return max(measured, threads * r1), measured, r1, threads


# ---------------------------------------------------------------------------- (a) Haar layer
def _haar_layer(quick, rate):
    from depthcheck.kernels.backends.numba import fused as nc
    from depthcheck.kernels.random.haar import apply_haar, sample_orthogonal
    from depthcheck.kernels.random.householder import apply_haar_blocked
    B, d, n = (20 if quick else 100), 100, 100
    H = np.random.default_rng(1).standard_normal((B, d, n))
    rng = np.random.default_rng(2)
    rep = 10 if quick else 15              # best of many: 2-core scheduling noise is large
    flops = B * 2.0 * d * d * n
    for warm in (lambda: nc.apply_haar_philox(H, (1, 2), 1), lambda: apply_haar_blocked(H, rng),
                 lambda: sample_orthogonal((B,), d, rng) @ H):
        warm()                            # first touches (buffers, BLAS pools) are not timed
    ours = _best(lambda: nc.apply_haar_philox(H, (1, 2), 1), rep)
    qr_s, qr_how = _best_threads(lambda: sample_orthogonal((B,), d, rng) @ H, rep)
    loop_s, loop_how = _best_threads(lambda: apply_haar(H, rng), max(2, rep // 2))
    wy_s, wy_how = _best_threads(lambda: apply_haar_blocked(H, rng), rep)
    tag = f"Haar layer W·H, d=n={d}, {B} trials"
    return [
        _row(f"{tag}: numba fused (Philox normals + compact-WY dgemm, prange)", ours,
             f"Gaussian QR + sign fix + matmul (numpy, batched; {qr_how})", qr_s, flops, rate,
             target="ratio >= 4 and ours_s <= 4*floor_s (= 2x of 4d^2n/R)"),
        _row(f"{tag}: numba fused", ours,
             f"our numpy reference depthcheck.kernels.random.haar.apply_haar (reflection loop; {loop_how})",
             loop_s, flops, rate),
        _row(f"{tag}: numpy compact-WY depthcheck.kernels.random.householder.apply_haar_blocked ({wy_how})", wy_s,
             f"depthcheck.kernels.random.haar.apply_haar (reflection loop; {loop_how})", loop_s, flops, rate),
    ]


# ---------------------------------------------------------------------------- (b) Figure 1
def _fig1_input(d, rng, f=0.005):
    """The Fig. 1 input of Meterez et al. 2024 (arXiv:2310.02012): X0 = (1-f) I + f u vᵀ,
    u, v ~ U[0,1]^d (as ``depthcheck.validation.papers.bn_orthogonal.fig1_input`` with n = d)."""
    return (1 - f) * np.eye(d) + f * np.outer(rng.random(d), rng.random(d))


def _user_loop(X, L, rng, sampler):
    """What users write without the library: one trial, one layer at a time (QR-sampled Haar W,
    matmul, row normalisation, the isometry gap from the eigenvalues of HᵀH)."""
    H = X.copy()
    e = np.linalg.eigvalsh(H.T @ H)
    gaps = [np.log(e.mean()) - np.log(e).mean()]
    for _ in range(L):
        W = sampler(rng)
        H = W @ H
        H = H / np.linalg.norm(H, axis=1, keepdims=True)        # Bn of Meterez et al. 2024, eq. 4: unit rows
        e = np.linalg.eigvalsh(H.T @ H)
        gaps.append(np.log(e.mean()) - np.log(e).mean())
    return gaps


#: the widths of the Fig. 1 rows (d = n; issue 15)
FIG1_WIDTHS = (32, 50, 100, 200)


def _fig1_sizes(d, quick):
    """(L, B) of the Fig. 1 rows per width."""
    if quick:
        return {32: (100, 20), 50: (100, 20), 100: (50, 20), 200: (20, 10)}[d]
    return {32: (1000, 100), 50: (1000, 100), 100: (1000, 100), 200: (250, 100)}[d]


def _fig1_flops(d, n):
    """The issue's flop floor of one Fig. 1 layer and trial: the Haar layer 2d²n, the Gram n²d
    and its Cholesky n³/3 (our kernel skips the last two where it can track the gap:
    ``depthcheck.kernels.backends.numba.fused.tracked_gap_eligible``)."""
    return 2.0 * d * d * n + n * n * d + n**3 / 3.0


def _cpu_best(fn, repeat: int) -> float:
    """Best process CPU time of ``fn`` (one thread busy: the work, not the scheduler's share)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _one_core_rate() -> float:
    """The 1-thread numpy matmul rate (1000×1000), from process CPU time, best of 3."""
    A = np.random.default_rng(0).standard_normal((1000, 1000))
    lim = _blas_limits(1)
    try:
        t = _cpu_best(lambda: A @ A, 3)
    finally:
        if lim is not None:
            lim.restore_original_limits()
    return 2e9 / t


def _one_core_costs() -> tuple[float, float]:
    """(R1, seconds per normal): the one-thread matmul rate (``_one_core_rate``) and the one-core
    cost of one N(0, 1) draw of the fused kernels' generator
    (``depthcheck.kernels.random.philox.normal_stream``, the ziggurat on Philox), both from
    process CPU time, best of 3."""
    from depthcheck.kernels.random.philox import normal_stream
    m = 2 ** 18
    normal_stream((1, 2), 1, 0, 0, 16)
    return _one_core_rate(), _cpu_best(lambda: normal_stream((1, 2), 1, 0, 0, m), 3) / m


def _fig1(quick, rate):
    """Per width d = n in ``FIG1_WIDTHS``: ours (2 threads, wall) vs the user loop and our numpy
    reference (as before), and ours on one thread against the one-core flop floor (CPU time:
    ``_cpu_best``; the floor from the 1-thread matmul rate R1 measured the same way) with the
    Philox → normal cost measured on its own (its d(d+1)/2 normals per layer and trial) and the
    2-thread scaling (wall time 1 thread / 2 threads)."""
    import numba
    from scipy.stats import ortho_group
    from depthcheck.kernels.backends.numba import fused as nc
    from depthcheck.kernels.chain.driver import simulate_chain
    rows = []
    rate1, sec_per_normal = _one_core_costs()
    threads = numba.get_num_threads()
    for d in FIG1_WIDTHS:
        n = d
        L, B = _fig1_sizes(d, quick)
        X = _fig1_input(d, np.random.default_rng(d))
        run = lambda: nc.simulate_chain_numba(X, L, trials=B, rng=np.random.default_rng(3),
                                              record=("isometry_gap",))
        out = run()
        assert np.all(np.isfinite(out["isometry_gap"]))
        ours = _best(run, 2)                               # wall, numba's threads (2)
        numba.set_num_threads(1)
        try:
            one_wall = _best(run, 2)
            one_cpu = _cpu_best(run, 2)
        finally:
            numba.set_num_threads(threads)
        # baseline (a): a subset of trials x layers, extrapolated linearly
        Ls, Bs = (20, 2) if quick else (100, 3)

        def qr_sampler(r):
            Q, R = np.linalg.qr(r.standard_normal((d, d)))
            return Q * np.where(np.diag(R) >= 0, 1.0, -1.0)

        def ortho_sampler(r):
            return ortho_group.rvs(d, random_state=r)

        scale = (L * B) / (Ls * Bs)
        qr_s, qr_how = _best_threads(
            lambda: [_user_loop(X, Ls, np.random.default_rng(i), qr_sampler) for i in range(Bs)],
            1)
        og_s, og_how = _best_threads(
            lambda: [_user_loop(X, Ls, np.random.default_rng(i), ortho_sampler)
                     for i in range(Bs)], 1)
        base_s, base_name = min((qr_s * scale, f"QR+sign fix ({qr_how})"),
                                (og_s * scale, f"scipy ortho_group ({og_how})"))
        # baseline (b): our numpy reference chain on a subset
        Lr, Br = (10, 5) if quick else (50, 20)
        ref_s, ref_how = _best_threads(
            lambda: simulate_chain(X, Lr, trials=Br, rng=np.random.default_rng(4),
                                   record=("isometry_gap",)), 1)
        flops = B * L * _fig1_flops(d, n)
        floor1 = flops / rate1
        rng_s = B * L * (d * (d + 1) // 2) * sec_per_normal
        tag = f"Meterez et al. 2024 Fig. 1: d=n={d}, L={L}, {B} trials, gap every layer"
        rows.append(_row(
            f"{tag}: numba fused chain", ours,
            f"user per-layer loop, {base_name} + matmul + rownorm + eigvalsh gap, one trial at "
            f"a time; timed on {Bs} trials x {Ls} layers, extrapolated x{scale:g}", base_s,
            flops, rate, qr_loop_extrapolated_s=qr_s * scale,
            ortho_group_loop_extrapolated_s=og_s * scale, target="ratio >= 5"))
        rows.append(_row(
            f"{tag}: numba fused chain", ours,
            f"our numpy reference simulate_chain(backend='numpy') ({ref_how}); timed on {Br} "
            f"trials x {Lr} layers, extrapolated x{(L * B) / (Lr * Br):g}",
            ref_s * (L * B) / (Lr * Br), flops, rate))
        rows.append(_row(
            f"{tag}: numba fused chain on {threads} threads (wall) vs 1 thread; one core: "
            f"{one_cpu:.4g} s CPU = {one_cpu / floor1:.2f} x the one-core flop floor "
            f"{floor1:.4g} s (R1 = {rate1 / 1e9:.1f} GFLOP/s); Philox normals alone "
            f"{rng_s:.3g} s = {rng_s / floor1:.2f} x that floor", ours,
            "the same kernel on 1 thread (wall); ratio = 2-thread scaling", one_wall, flops,
            rate, ours_cpu_1core_s=one_cpu, floor_1core_s=floor1,
            floor_ratio_1core=one_cpu / floor1, rng_1core_s=rng_s,
            rng_share_of_floor=rng_s / floor1, matmul_gflops_1core=rate1 / 1e9,
            target="floor_ratio_1core <= 2"))
    return rows


# ---------------------------------------------------------------------------- (c) reduced
def _reduced_flops(d, n, forward_only=False):
    """~ flops per layer and trial of the reduced chain, Haar weights, isometry gap recorded
    every layer (Householder QR, R only: 2dn²; applying n reflectors to n columns: 4dn²; a Gram
    HᵀH by syrk: dn²; the n×n pieces, O(n³), are left out). Forward: R of H, QR of G, Q_G
    applied to [R_H; 0], the Gram of the gap = 9dn². With gradients add the recomputed forward
    (8dn², no statistics) and the backward: Q_Gᵀδ (4dn²), R of the complement part (2dn²), QR of
    the fresh Gaussian (2dn²) and its reflectors applied (4dn²), Q_H applied (4dn²), the two
    Grams of the gradient norm (2dn²) = 18dn²; 35dn² in all (the numpy engine's count is about
    the same: its forward skips the bases, its replay forms them). The numba kernel now does
    fewer (CholeskyQR of the Gaussians: 6dn² forward), but the floor keeps this count, so
    that ratios stay comparable across versions."""
    fwd = 9 * d * n * n
    if forward_only:
        return float(fwd)
    return float(fwd + 8 * d * n * n + 18 * d * n * n)


def _reduced_floor_row(row, normals=None):
    """``row`` with ``floor_ratio`` = ours_s / floor_s (the target: <= 5). With ``normals`` (the
    count of N(0, 1) draws the workload needs) also ``rng_floor_s``, the time our fastest
    generator takes for them (``_normal_seconds``), and ``floor_ratio_with_rng`` =
    ours_s / (floor_s + rng_floor_s): the flop floor leaves out the random numbers, which the
    reduced chain cannot avoid (a uniform n-frame of R^d has d·n − n(n+1)/2 degrees of freedom,
    about 9n flops per normal at 9dn² flops per layer)."""
    row["floor_ratio"] = row["ours_s"] / row["floor_s"] if row.get("floor_s") else None
    if normals is not None:
        row["rng_floor_s"] = normals * _normal_seconds()
        row["floor_ratio_with_rng"] = (row["ours_s"] / (row["floor_s"] + row["rng_floor_s"])
                                       if row.get("floor_s") else None)
    return row


def _normal_seconds() -> float:
    """Seconds per normal of the reduced kernels' generator (block ziggurat on Philox,
    ``depthcheck.kernels.backends.numba.reduced.reduced_normals``), best of 5 single-threaded
    draws of 2²⁰, divided by numba's thread count (the kernels run one trial per thread)."""
    import numba
    from depthcheck.kernels.backends.numba.reduced import reduced_normals
    reduced_normals((1, 2), 1, 0, 0, 16)
    t = _best(lambda: reduced_normals((1, 2), 1, 0, 0, 2**20), 5)
    return t / 2**20 / numba.get_num_threads()


def _reduced(quick, rate):
    from scipy import stats
    from depthcheck.kernels.chain.driver import simulate_chain
    from depthcheck.kernels.chain.reduced import simulate_reduced_chain
    from depthcheck.kernels.backends.numba.reduced import simulate_reduced_chain_numba
    d, n = 1024, 8
    L, B = (100, 10) if quick else (1000, 100)
    X = np.random.default_rng(5).standard_normal((d, n))
    labels = np.arange(n) % 10
    rec = ("isometry_gap",)
    lim = _blas_limits(1)
    try:
        t0 = time.perf_counter()
        out = simulate_reduced_chain(X, L, trials=B, rng=np.random.default_rng(6),
                                     gradients=True, labels=labels, record=rec)
        ours = time.perf_counter() - t0
    finally:
        if lim is not None:
            lim.restore_original_limits()
    assert np.all(np.isfinite(out["log_grad_norm"]))
    kw = dict(trials=B, gradients=True, labels=labels, record=rec)
    simulate_reduced_chain_numba(X[:16], 2, trials=2, rng=np.random.default_rng(0),
                                 gradients=True, labels=labels)       # load / compile
    nb_s = _best(lambda: simulate_reduced_chain_numba(X, L, rng=np.random.default_rng(6), **kw),
                 1 if not quick else 2)
    Lf, Bf = (1, 1) if quick else (2, 2)

    def full():
        simulate_chain(X, Lf, trials=Bf, rng=np.random.default_rng(7), gradients=True,
                       labels=labels, record=rec)
    if quick:        # a 2-thread BLAS is never faster at this size on this machine: skip it
        lim = _blas_limits(1)
        try:
            full_s, full_how = _best(full, 1), "1 BLAS thread"
        finally:
            if lim is not None:
                lim.restore_original_limits()
    else:
        full_s, full_how = _best_threads(full, 1)
    scale = (L * B) / (Lf * Bf)
    note = "statistics: see tests/kernels/test_reduced.py (KS vs full chain)"
    if not quick:   # a direct two-sample check at a width the full chain can afford
        ds, Ls_, Bs_ = 128, 4, 300
        Xs = np.random.default_rng(8).standard_normal((ds, n))
        kw = dict(gradients=True, labels=labels, record=rec, norm="rownorm")
        a = simulate_chain(Xs, Ls_, trials=Bs_, rng=np.random.default_rng(9), **kw)
        b = simulate_reduced_chain(Xs, Ls_, trials=Bs_, rng=np.random.default_rng(10), **kw)
        p_gap = min(stats.ks_2samp(a["isometry_gap"][:, j], b["isometry_gap"][:, j]).pvalue
                    for j in range(1, Ls_ + 1))
        p_grad = min(stats.ks_2samp(a["log_grad_norm"][:, j], b["log_grad_norm"][:, j]).pvalue
                     for j in range(a["log_grad_norm"].shape[1]))
        note = (f"KS at d={ds}, n={n}, L={Ls_}, {Bs_} trials each: min p gap {p_gap:.3g}, "
                f"min p log-grad {p_grad:.3g} (over {Ls_} + {a['log_grad_norm'].shape[1]} "
                f"layers)")
    flops = B * L * _reduced_flops(d, n)
    tag = f"n<<d: d={d}, n={n}, L={L}, {B} trials, forward + gradients"
    return [_reduced_floor_row(_row(
        f"{tag}: reduced chain (numpy)",
        ours, f"full d x d simulate_chain(numpy, gradients) ({full_how}); timed on {Bf} trial(s) "
        f"x {Lf} layer(s), extrapolated x{scale:g}", full_s * scale,
        flops, rate, statistics=note, target="ratio >= 100")),
        _reduced_floor_row(_row(
            f"{tag}: fused numba reduced kernel with the conditional backward", nb_s,
            "the numpy reduced chain with gradients (1 BLAS thread), same run", ours, flops,
            rate, statistics="in law: tests/kernels/test_reduced_numba.py (KS vs numpy reduced)",
            target="ours_s <= 5*floor_s"), normals=B * L * 3 * d * n)]   # fwd, replay, bwd


# ---------------------------------------------------------------------------- (d) memory
_MEM_SCRIPT = textwrap.dedent("""
    import json, sys, time, tracemalloc, numpy as np

    def hwm_mb():
        # VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def reset_hwm():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")           # Linux >= 4.0: reset the peak RSS to the current RSS
            return True
        except OSError:
            return False

    which, L = sys.argv[1], int(sys.argv[2])
    d, n, B = 64, 8, 20
    X = np.random.default_rng(0).standard_normal((d, n))
    if which == "numba":
        from depthcheck.kernels.backends.numba.fused import simulate_chain_numba as run
    else:
        from depthcheck.kernels.chain.driver import simulate_chain as run
    run(X, 2, trials=2, rng=np.random.default_rng(0))             # imports, compile / load
    reset = reset_hwm()
    base = hwm_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    run(X, L, trials=B, rng=np.random.default_rng(1))
    dt = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print("JSON" + json.dumps({"t": dt, "peak_mb": hwm_mb(), "base_mb": base,
                              "traced_mb": traced / 2**20, "reset": reset}))
""")


def _memory(quick):
    """Peak memory of a stats-only chain at two depths, each in a fresh process. The numpy
    chain's own allocations are traced exactly (tracemalloc); numba's NRT allocations are not
    traced, so for it the process's peak RSS (VmHWM, reset after loading) is the measure."""
    Ls = (20, 200) if quick else (50, 500)
    rows = []
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for which in ("numpy", "numba"):
        res = {}
        for L in Ls:
            p = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, which, str(L)], cwd=root,
                               capture_output=True, text=True, timeout=900)
            if p.returncode != 0:
                raise RuntimeError(f"memory benchmark failed: {p.stderr[-2000:]}")
            res[L] = json.loads(p.stdout.split("JSON", 1)[1])
        a, b = res[Ls[0]], res[Ls[1]]
        rows.append(_row(
            f"memory, {which} chain, stats only, d=64, n=8, 20 trials: peak RSS above the "
            f"loaded process {a['peak_mb'] - a['base_mb']:.1f} MB at L={Ls[0]} vs "
            f"{b['peak_mb'] - b['base_mb']:.1f} MB at L={Ls[1]}; traced (numpy-allocated) peak "
            f"{a['traced_mb']:.2f} vs {b['traced_mb']:.2f} MB (the (trials x recorded layers) "
            f"outputs)", b["t"], None, None,
            peak_rss_mb={str(L): res[L]["peak_mb"] for L in Ls},
            rss_after_load_mb={str(L): res[L]["base_mb"] for L in Ls},
            traced_mb={str(L): res[L]["traced_mb"] for L in Ls},
            hwm_reset=bool(a["reset"] and b["reset"]), target="peak memory independent of L"))
    return rows


# ---------------------------------------------------------------------------- reduced, forward
def _reduced_forward(quick, rate):
    """n << d forward only: the fused numba reduced kernel vs the numpy reduced chain."""
    from depthcheck.kernels.chain.reduced import simulate_reduced_chain
    from depthcheck.kernels.backends.numba.reduced import simulate_reduced_chain_numba
    d, n = 1024, 8
    L, B = (100, 10) if quick else (1000, 100)
    X = np.random.default_rng(13).standard_normal((d, n))
    kw = dict(trials=B, record=("isometry_gap",))
    ours, ours_how = _best_threads(
        lambda: simulate_reduced_chain_numba(X, L, rng=np.random.default_rng(14), **kw), 3)
    base, how = _best_threads(
        lambda: simulate_reduced_chain(X, L, rng=np.random.default_rng(14), **kw), 1)
    flops = B * L * _reduced_flops(d, n, forward_only=True)
    return [_reduced_floor_row(_row(
        f"n<<d forward only: d={d}, n={n}, L={L}, {B} trials, gap every layer: fused numba "
        f"reduced kernel ({ours_how})", ours,
        f"numpy reduced chain depthcheck.kernels.chain.reduced ({how})", base, flops, rate,
        target="ours_s <= 5*floor_s"), normals=B * L * d * n)]


# ---------------------------------------------------------------------------- gradients
def _per_layer_numba():
    """The numba engine with its per-layer methods alone (no fused kernel), for the gradients
    row; the registry calls this like an engine class."""
    from depthcheck.kernels.backends.numba.fused import NumbaChainBackend

    class PerLayerNumba(NumbaChainBackend):
        @staticmethod
        def fused(spec, record, gradients):
            return False
    return PerLayerNumba()


def _gradients(quick, rate):
    """Meterez et al. 2024 Fig. 3 set-up with gradients: fused numba kernel vs the per-layer numba driver
    vs the numpy reference, in the same run."""
    from depthcheck.kernels import backends as _engines
    from depthcheck.kernels.chain import driver as _chain

    d = n = 100
    L, B = (10, 10) if quick else (50, 20)
    X = np.random.default_rng(11).standard_normal((d, n))
    kw = dict(trials=B, gradients=True, record=("isometry_gap",), n_out=10, norm="bn")
    run = lambda backend: _chain.simulate_chain(X, L, rng=np.random.default_rng(12),
                                                backend=backend, **kw)
    fused, fused_how = _best_threads(lambda: run("numba"), 3)
    base, how = _best_threads(lambda: run("numpy"), 1)
    # the per-layer driver: the registry's numba entry points at _per_layer_numba for this row
    # only (the registry is the one place engines are looked up; restored in any case)
    key, saved = ("full", "numba"), _engines.ENGINES[("full", "numba")]
    _engines.ENGINES[key] = f"{__name__}:_per_layer_numba"
    try:
        layers, layers_how = _best_threads(lambda: run("numba"), 1)
    finally:
        _engines.ENGINES[key] = saved
    # forward + recomputed forward + backward (~3 Haar applications of 2d²n) + 2 Grams per layer
    flops = B * L * (3 * 2 * d * d * n + 2 * n * n * d)
    set_up = f"Meterez et al. 2024 Fig. 3 set-up with gradients, bn, d=n={d}, L={L}, {B} trials"
    return [_row(f"{set_up}: simulate_chain(backend='numba'), fused gradient kernel "
                 f"({fused_how})", fused,
                 f"simulate_chain(backend='numpy') (formed W via dorgqr; {how})", base,
                 flops, rate),
            _row(f"{set_up}: fused gradient kernel", fused,
                 f"numba per-layer driver (compact-WY Householder weights; {layers_how})",
                 layers, flops, rate)]


def bench(quick: bool) -> list[dict]:
    """Rows for ``python -m depthcheck bench``; quick mode shrinks every workload (the rows
    say by how much) and must finish in about a minute on 2 cores with warm numba caches."""
    from depthcheck.kernels.backends.numba import fused as nc
    t0 = time.perf_counter()              # load (or compile, on a cold cache) the kernels
    nc.simulate_chain_numba(np.eye(4, 3) + 1, 2, trials=2, rng=np.random.default_rng(0))
    nc.simulate_chain_numba(np.eye(4, 3) + 1, 2, trials=2, rng=np.random.default_rng(0),
                            gradients=True, n_out=2)
    nc.apply_haar_philox(np.ones((1, 4, 3)), (1, 2))
    nc.haar_apply_batch(np.ones((1, 4, 4)), np.ones((1, 4, 3)))
    warm = time.perf_counter() - t0
    rate, measured, rate1, threads = _machine_rate(quick)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = [_row(f"machine: floors at R = {rate / 1e9:.1f} GFLOP/s = max(numpy matmul "
                 f"{measured / 1e9:.1f} (best of 1/2 BLAS threads), {threads} threads x the "
                 f"one-core {rate1 / 1e9:.1f}); numba kernels loaded in {warm:.1f} s; 1-min "
                 f"load average {load}", warm, None, None, loadavg=load,
                 matmul_gflops=rate / 1e9, matmul_gflops_measured=measured / 1e9,
                 matmul_gflops_1core=rate1 / 1e9, threads=threads)]
    rows += _haar_layer(quick, rate)
    rows += _fig1(quick, rate)
    rows += _reduced(quick, rate)
    rows += _reduced_forward(quick, rate)
    rows += _gradients(quick, rate)
    rows += _memory(quick)
    return rows
