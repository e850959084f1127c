"""Tasks: what one worker runs (a claim's chunk of trials) and how its random stream is seeded.

A task is (claim id, variant "claim"|"control"|"mutation:NAME", chunk index). Its stream is
``SeedSequence([seed, crc32(claim.seed_key), v]).spawn(n_chunks)[chunk]`` with v = 1 for the
control and v = 0 for the claim and its mutations (common random numbers); ``spawn(n)[i]`` does
not depend on n, so chunks added later (``--plan-trials``, ``--until-decided``) get fresh
streams without changing the planned ones. Workers receive a picklable :class:`TaskSpec` and
import the claim themselves (:func:`execute_task`).
"""
from __future__ import annotations

import contextlib
import json
import time
import traceback
import zlib
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from depthcheck.theory._checks import check_choice
from depthcheck.validation.run import registry
from depthcheck.validation.run.fingerprint import code_fingerprint
from depthcheck.validation.run.results import check_evidence, layout_hash
from depthcheck.validation.run.store import TaskKey, pack_evidence

__all__ = ["VARIANTS", "TaskError", "TaskSpec", "TaskOutput", "chunk_seed", "execute_task"]

VARIANTS = ("claim", "control")


class TaskError(RuntimeError):
    """A task failed; the message names claim, variant, chunk, seed and configuration."""

    def __init__(self, message: str, tb: str = ""):
        super().__init__(message)
        self.tb = tb

    def __reduce__(self):  # keep the traceback text across process / Dask boundaries
        return (TaskError, (self.args[0], self.tb))


@dataclass(frozen=True)
class TaskSpec:
    """Everything a worker needs to run one task (picklable, small)."""
    module: str
    claim_id: str
    seed_key: str
    variant: str
    chunk: int
    n_chunks: int
    n_trials: int
    mode: str
    seed: int
    backend: str
    config_hash: str

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.claim_id, self.variant, self.chunk, self.mode, self.seed,
                       self.backend, self.config_hash)

    def seed_description(self) -> str:
        return (f"SeedSequence(entropy=[{self.seed}, crc32({self.seed_key!r})="
                f"{_crc(self.seed_key)}, {_variant_index(self.variant)}], "
                f"spawn_key=({self.chunk},))")


@dataclass(frozen=True)
class TaskOutput:
    spec: TaskSpec
    evidence: bytes
    elapsed_s: float


def _crc(seed_key: str) -> int:
    return zlib.crc32(seed_key.encode("utf-8"))


def _variant_index(variant: str) -> int:
    """0 for the claim and its mutations (common random numbers), 1 for the control."""
    if isinstance(variant, str) and variant.startswith("mutation:") and len(variant) > 9:
        return 0
    check_choice(variant, "variant", VARIANTS)
    return VARIANTS.index(variant)


def _mutation_name(variant: str) -> str | None:
    return variant[len("mutation:"):] if variant.startswith("mutation:") else None


def chunk_seed(seed: int, seed_key: str, variant: str, chunk: int, n_chunks: int
               ) -> np.random.SeedSequence:
    """The seed sequence of one task (see module doc); ``seed_key`` is ``Claim.seed_key``."""
    base = np.random.SeedSequence([int(seed), _crc(seed_key), _variant_index(variant)])
    return base.spawn(n_chunks)[chunk]


def _where(spec: TaskSpec, cfg: dict) -> str:
    return (f"claim {spec.claim_id} [{spec.variant}] chunk {spec.chunk}/{spec.n_chunks} "
            f"({spec.mode}, backend {spec.backend}, chunk seed {spec.seed_description()}, "
            f"config {json.dumps(cfg, sort_keys=True)})")


@contextlib.contextmanager
def _one_blas_thread():
    """One BLAS thread per task: simulations multiply stacks of small matrices, where BLAS
    threads on a 2-core machine cost far more than they save (a batched (8,32,32)@(8,32,1348)
    product measured 0.39 s threaded vs 8 ms single-threaded under load). Parallelism comes
    from tasks (``--workers``), never from BLAS; results do not depend on it."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def execute_task(spec: TaskSpec) -> TaskOutput:
    """Run one task: import the claim, simulate its chunk, validate and pack the evidence."""
    claim = registry.get_claim(spec.module, spec.claim_id)
    cfg = claim.config(spec.mode, spec.variant == "control", _mutation_name(spec.variant))
    if layout_hash(cfg, claim.chunk_sizes(spec.mode),
                   code_fingerprint(spec.module)) != spec.config_hash:
        raise TaskError(f"claim {spec.claim_id} [{spec.variant}]: the worker's configuration or "
                        f"code differs from the planner's (different code versions?)")
    rng = np.random.default_rng(chunk_seed(spec.seed, spec.seed_key, spec.variant, spec.chunk,
                                           spec.n_chunks))
    t0 = time.perf_counter()
    try:
        with _one_blas_thread():
            ev = claim.simulate(cfg, rng, spec.n_trials, spec.backend)
    except Exception as exc:
        raise TaskError(f"{type(exc).__name__} in simulate of {_where(spec, cfg)}: {exc}",
                        traceback.format_exc()) from exc
    ev = check_evidence(ev, spec.n_trials, claim.allow_inf, _where(spec, cfg))
    return TaskOutput(spec, pack_evidence(ev), time.perf_counter() - t0)
