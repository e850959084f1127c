"""Per-layer statistics recorded by ``depthcheck.kernels.simulate_chain``.

Each statistic maps the batch of hidden representations ``H`` ``(B, d, n)`` (and the input of
the layer's normalisation, ``pre``) to one number per trial ``(B,)`` (``top_singular_values``:
``(B, k)``). Definitions live in ``depthcheck.theory``; this module only dispatches and guards
against non-finite values.

* ``isometry_gap``: φ(H) = log(tr(G)/n) − (1/n) log det G, G = HᵀH ([1]_ eq. (5),
  ``depthcheck.theory.isometry.isometry_gap``). +inf for a rank-deficient H (n > d always):
  allowed.
* ``rank_lower_bound``: r(H) = tr(M)²/‖M‖_F², M = HHᵀ/n ([2]_ eq. (4),
  ``depthcheck.theory.rank.rank_lower_bound``).
* ``soft_rank``: rank_τ(c·H) ([2]_ eq. (3), ``depthcheck.theory.rank.soft_rank``, default
  "eigen" convention: #{i : λ_i(M) > τ}) with c chosen so that tr M = d, i.e. the mean
  eigenvalue of M is 1 as on the BN manifold of [2]_ (rows of norm √n). rank_τ's threshold is
  absolute, so the rescaling makes it scale free; for ``bn_nomean`` + identity chains c = 1
  ([2]_ exactly), for ``rownorm`` c = √n.
* ``row_norm_cv``: std/mean (population std) of the row norms b_i = ‖pre_i‖ of the tensor that
  enters the normalisation; CV² = Var(b)/Mean(b)² is the factor of [1]_ Lemma A.1
  (I(Bn(H)) ≥ I(H)(1 + Var(b)/Mean(b)²)).
* ``frobenius_M``: ‖M‖_F², M = HHᵀ/n ([2]_ Lemmas 7 and 13). Scale dependent: for
  ``norm="none"`` it refers to the rescaled H (‖H‖_F = 1).
* ``top_singular_values``: the k largest singular values of H, descending ([2]_ Fig. 3b).

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.
"""
from __future__ import annotations

import numpy as np

from depthcheck.theory.isometry import isometry_gap
from depthcheck.theory.rank import rank_lower_bound, second_moment, soft_rank

__all__ = ["STATISTICS", "DEFAULT_RECORD", "compute_statistic"]

STATISTICS = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv", "frobenius_M",
              "top_singular_values")
#: what ``simulate_chain`` records unless told otherwise
DEFAULT_RECORD = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv")


def compute_statistic(name: str, H: np.ndarray, pre: np.ndarray, *, tau: float,
                      n_singular: int) -> np.ndarray:
    """Statistic ``name`` of the batch ``H`` ``(B, d, n)``; ``pre`` is the normalisation's
    input of the same layer (the input X itself at layer 0)."""
    if name == "isometry_gap":
        return np.asarray(isometry_gap(H), dtype=np.float64)
    if name == "rank_lower_bound":
        return np.asarray(rank_lower_bound(H), dtype=np.float64)
    if name == "soft_rank":
        d, n = H.shape[-2:]
        fro2 = np.sum(H * H, axis=(-2, -1), keepdims=True)
        # tr(HHᵀ/n) = d  <=>  ‖H‖_F² = d·n; a zero H keeps fro2 = 0 -> NaN, caught by the driver
        with np.errstate(invalid="ignore", divide="ignore"):
            Hc = H * np.sqrt(d * n / fro2)
        if not np.all(np.isfinite(Hc)):
            return np.full(H.shape[0], np.nan)
        return np.asarray(soft_rank(Hc, tau), dtype=np.float64)
    if name == "row_norm_cv":
        b = np.sqrt(np.sum(pre * pre, axis=-1))            # (B, d) row norms
        mean = b.mean(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return b.std(axis=-1) / mean                   # 0/0 = NaN: caught by the driver
    if name == "frobenius_M":
        M = second_moment(H)
        return np.sum(M * M, axis=(-2, -1))
    if name == "top_singular_values":
        s = np.linalg.svd(H, compute_uv=False)            # descending
        return s[..., :n_singular]
    raise ValueError(f"record: unknown statistic {name!r}; choose from {STATISTICS}")
