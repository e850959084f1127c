"""Run claims: plan independent tasks, execute them anywhere, store them, judge, write outputs.

A task is (claim id, variant "claim"|"control"|"mutation:NAME", chunk index). Its random stream
is

    SeedSequence([seed, crc32(claim.seed_key), v]).spawn(n_chunks)[chunk]

with v = 1 for the control and v = 0 for the claim *and* its mutations: a mutation runs on the
claim's own random numbers (common random numbers), so it differs from the claim only by the
mutation.

so a task's evidence depends only on (seed, claim, variant, chunk, configuration, backend): not on
which other claims were selected, on the number or kind of workers, nor on completion order.
(``seed_key`` is the claim id unless the claim was renamed: then its former id, so that renaming
changes no number.) Tasks run in this process (default), on a local process pool
(``workers > 1``) or on an existing Dask cluster (``scheduler="tcp://..."``); workers receive a
:class:`TaskSpec` (module name, claim id, variant, chunk, mode, seed, backend) and import the
claim themselves. A backend that a selected claim does not declare in ``Claim.backends`` is
refused by claim id before anything runs. The main process writes every finished task to the
:class:`~depthcheck.validation.run.store.Store` at once, so rerunning the same command
after a crash or Ctrl-C skips the stored tasks and produces an identical ``results.json``.

Aggregation concatenates each evidence key over chunks in chunk order and calls
``judge(cfg, predict(cfg), evidence, ALPHA)``. A negative control must come out FAIL; otherwise
the claim's status is BROKEN. Every data-side mutation (``Claim.mutations``) is judged with the
claim's own configuration and prediction and must FAIL too; a statistical claim (or finding)
whose mutation does not FAIL, or that declares none, is UNDERPOWERED: its PASS has not been
shown to mean anything. A statistical claim whose evidence is identical across its
independently seeded chunks, or whose interval has zero width, is mis-declared (an exact
identity posing as Monte Carlo evidence) and has status ERROR. A claim whose tasks, prediction
or judgement raise has status ERROR. Statuses, by precedence: ERROR, BROKEN, UNDERPOWERED, OK.

Outputs in the run directory (:mod:`depthcheck.validation.run.results`): ``results.json``
(deterministic: a pure function of the code, the selection, mode, seed and backend, so two runs
can be compared byte for byte; timings therefore live in ``timings.json``), ``manifest.json``
(mode, seed, backend, modules, this run's claims, what was carried over, superseded, recomputed
or quarantined, and the run's provenance: :mod:`depthcheck.validation.run.provenance`),
``report.md`` and ``figures/*.png`` (:mod:`depthcheck.validation.run.report`), ``errors.log``
(tracebacks), ``store.sqlite`` (:mod:`depthcheck.validation.run.store`: checksummed rows; a
damaged file is set aside and rebuilt).

One run writes into a directory at a time (:mod:`depthcheck.validation.run.lock`): a second
run into it raises ``DirectoryLockedError`` naming the holder. A narrower rerun into a directory
keeps the earlier run's records of the claims it does not select in ``results.json`` (after its
own records), each marked ``carried_over`` with the earlier run's id, date and command, and
redraws their figures from the store, so every figure belongs to a record; an earlier run with
another mode, seed, backend or alpha (or unreadable files) is superseded visibly: its outputs
move to ``superseded/<UTC time>/``. What the run repaired or set aside is also reported as a
:class:`RunWarning`.
"""
from __future__ import annotations

import math
import os
import secrets
import shutil
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from depthcheck.theory._checks import check_choice, check_positive_int
from depthcheck.validation.claims import sequential
from depthcheck.validation.claims.claim import BACKENDS, Claim, ClaimResult, Sequential, Verdict
from depthcheck.validation.claims.plotting import PNG_DPI
from depthcheck.validation.claims.stats import ALPHA
from depthcheck.validation.run import executors, registry, report
from depthcheck.validation.run.fingerprint import code_fingerprint
from depthcheck.validation.run.lock import RunLock
from depthcheck.validation.run.provenance import provenance
from depthcheck.validation.run.results import (ERRORS_NAME, MANIFEST_NAME, RESULTS_NAME,
                                               TIMINGS_NAME, check_evidence, layout_hash,
                                               load_evidence, read_run, rebuild_results,
                                               write_json)
from depthcheck.validation.run.store import Store, unpack_evidence
from depthcheck.validation.run.tasks import (VARIANTS, TaskError, TaskOutput, TaskSpec,
                                             _mutation_name, chunk_seed, execute_task)

__all__ = ["VARIANTS", "MODES", "BACKENDS", "BACKEND_ALIASES", "TaskSpec", "TaskOutput",
           "TaskError", "RunResult", "RunWarning", "SUPERSEDED_DIR", "chunk_seed", "execute_task",
           "run", "default_out",
           "resolve_backend", "engine_for", "AUTO", "AUTO_ORDER", "RESULTS_NAME", "MANIFEST_NAME", "TIMINGS_NAME", "ERRORS_NAME"]

#: Statuses of a claim record, by precedence (the first that applies).
STATUSES = ("ERROR", "BROKEN", "UNDERPOWERED", "OK")
MODES = ("quick", "full")

#: Other names accepted for a backend.
BACKEND_ALIASES = {"cupy": "cuda"}
#: The default backend: each claim runs on the fastest engine it declares, in this order.
AUTO = "auto"
#: The backends "auto" may pick: the first of the claim's ``Claim.backends`` (its order is the
#: claim's preference, fastest first) that is one of these. CUDA is never picked automatically:
#: it needs a GPU and is asked for by name.
AUTO_ORDER = ("numba", "numpy")

#: Where the outputs of an earlier run that cannot be merged go (``DIR/superseded/<time>``).
SUPERSEDED_DIR = "superseded"
#: The outputs of a run besides the store (what superseding moves aside).
_OUTPUTS = (RESULTS_NAME, MANIFEST_NAME, TIMINGS_NAME, ERRORS_NAME, report.REPORT_NAME,
            report.FIGURE_DIR)


class RunWarning(UserWarning):
    """Something the run repaired or set aside: corrupt evidence recomputed, a damaged store
    quarantined, an earlier run's outputs superseded or not redrawn."""


# ----------------------------------------------------------------------------------- planning

@dataclass
class _Plan:
    module: str
    claim: Claim
    variant: str
    cfg: dict
    sizes: list[int]
    specs: list[TaskSpec]
    mode: str = "quick"
    error: str | None = None
    sequence: tuple | None = None       # (SequentialDecision, max_trials) with --until-decided
    planned: dict | None = None         # the two-stage plan of --plan-trials
    base_trials: int = 0                # trials of the planned layout (before any extension)
    tb: str = ""
    elapsed_s: float = 0.0


def _plan(module: str, claim: Claim, variant: str, mode: str, seed: int, backend: str) -> _Plan:
    cfg = claim.config(mode, variant == "control", _mutation_name(variant))
    sizes = claim.chunk_sizes(mode)
    h = layout_hash(cfg, sizes, code_fingerprint(module))
    specs = [TaskSpec(module, claim.id, claim.seed_key, variant, i, len(sizes), n, mode, seed,
                      backend, h) for i, n in enumerate(sizes)]
    return _Plan(module, claim, variant, cfg, list(sizes), specs, mode,
                 base_trials=sum(sizes))


def default_out(mode: str, seed: int) -> Path:
    """Default output directory ``results/{mode}-seed{seed}`` (fixed, so a rerun resumes)."""
    return Path("results") / f"{mode}-seed{seed}"


# ----------------------------------------------------------------------------------- aggregation

def _judge(plan: _Plan, evidence: dict, alpha: float) -> ClaimResult:
    pred = plan.claim.predict(plan.cfg)
    verdict = plan.claim.judge(plan.cfg, pred, evidence, alpha)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"judge of {plan.claim.id} must return a Verdict, got "
                        f"{type(verdict).__name__}")
    return ClaimResult(plan.claim.id, plan.variant == "control", plan.cfg, pred, evidence, verdict,
                       sum(plan.sizes))


def _judge_mutation(claim: Claim, name: str, claim_cfg: dict, evidence: dict, n_trials: int,
                    alpha: float) -> dict:
    """Judge one data-side mutation: its evidence (transformed if the mutation says so) against
    the claim's own configuration and prediction. Returns the record's ``mutations`` entry."""
    m = claim.mutation(name)
    ev = {k: np.array(v, copy=True) for k, v in evidence.items()}
    if m.transform is not None:
        ev = check_evidence(m.transform(claim_cfg, ev), n_trials, claim.allow_inf,
                            f"claim {claim.id} [mutation:{name}] transform")
    v = claim.judge(claim_cfg, claim.predict(claim_cfg), ev, alpha)
    if not isinstance(v, Verdict):
        raise TypeError(f"judge of {claim.id} must return a Verdict, got {type(v).__name__}")
    return {"name": name, "description": m.description, "verdict": v.verdict,
            "statistic": v.statistic, "ci": list(v.ci), "detail": v.detail}


def _misdeclared(claim: Claim, plan: _Plan, store: Store, res: ClaimResult) -> str | None:
    """Why a statistical claim's evidence cannot be Monte Carlo evidence, or None: identical
    across independently seeded chunks, or a zero-width interval."""
    if claim.kind == "exact":
        return None
    lo, hi = res.verdict.ci
    if lo == hi:
        return (f"its interval has zero width ([{lo:g}, {hi:g}]): a statement whose evidence "
                f"does not vary is an exact identity; declare kind='exact'")
    if len(plan.specs) >= 2:
        blobs = [store.get(s.key) for s in plan.specs]
        evs = [unpack_evidence(b.evidence) for b in blobs if b is not None]
        first = evs[0]
        same = all(first.keys() == e.keys() and all(
            np.array_equal(first[k][:1], e[k][:1]) for k in first) for e in evs[1:])
        if same:
            return ("its first trial's evidence is identical in every independently seeded "
                    "chunk: it does not depend on the random numbers; declare kind='exact'")
    return None


def _record(plan: _Plan, res: ClaimResult | None, alpha: float) -> dict:
    c = plan.claim
    v = res.verdict if res is not None else None
    sens = c.sensitivity
    return {
        "id": c.id,
        "title": c.title,
        "module": plan.module,
        "source": c.source,
        "kind": c.kind,
        "delta": None if sens is None else sens.at(plan.mode),
        "control": plan.variant == "control",
        "status": "ERROR" if v is None else "OK",
        "verdict": "ERROR" if v is None else v.verdict,
        "statistic": None if v is None else v.statistic,
        "ci": [None, None] if v is None else list(v.ci),
        "prediction": None if v is None else v.prediction,
        "alpha": alpha if v is None else v.alpha,
        "trials": sum(plan.sizes),
        "chunk": plan.sizes[0],
        "config": plan.cfg,
        "code": code_fingerprint(plan.module),
        "engine": plan.specs[0].backend if plan.specs else None,
        **({"planned": plan.planned} if plan.planned else {}),
        "detail": f"ERROR: {plan.error}" if v is None else v.detail,
        "extra": {} if v is None else v.extra,
    }


def _link_control(claim_rec: dict, control_rec: dict) -> None:
    """Claim status: ERROR if either run errored, BROKEN if the control did not FAIL."""
    claim_rec["control_verdict"] = control_rec["verdict"]
    if control_rec["status"] == "ERROR":
        claim_rec["status"] = "ERROR"
    elif control_rec["verdict"] != "FAIL":
        control_rec["status"] = "BROKEN"
        if claim_rec["status"] == "OK":
            claim_rec["status"] = "BROKEN"


def _link_power(claim_rec: dict, claim: Claim, mutations: list[dict]) -> None:
    """UNDERPOWERED: a statistical claim or finding whose power is not shown (no mutation, or a
    mutation that does not FAIL). Errors of mutations make the claim ERROR."""
    claim_rec["mutations"] = mutations
    if claim.kind == "exact":
        return
    if any(m["verdict"] == "ERROR" for m in mutations):
        claim_rec["status"] = "ERROR"
        return
    weak = [m["name"] for m in mutations if m["verdict"] != "FAIL"]
    if claim_rec["status"] == "OK" and (not mutations or weak):
        claim_rec["status"] = "UNDERPOWERED"
        claim_rec["underpowered"] = (
            "no data-side mutation declared: the claim has not shown that it can detect "
            "anything" if not mutations else
            f"mutation{'s' if len(weak) > 1 else ''} {', '.join(weak)} did not FAIL")


# ----------------------------------------------------------------------------------- the run

@dataclass
class RunResult:
    out: Path
    records: list[dict]
    executed: int
    reused: int
    wall_s: float
    figure_errors: list[str] = field(default_factory=list)
    #: claims whose stored evidence came from other code or another configuration (recomputed)
    stale: list[str] = field(default_factory=list)
    #: claims with a task whose stored evidence failed its checksum (recomputed)
    corrupt: list[str] = field(default_factory=list)
    #: where a damaged store.sqlite was moved before the store was rebuilt, or None
    quarantined: Path | None = None
    #: claims of an earlier run into ``out`` that this run did not select, kept in results.json
    carried: list[str] = field(default_factory=list)
    #: where an earlier run's outputs were moved because they could not be merged, or None
    superseded: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 when every claim ran, every control failed and every statistical claim showed its
        power; 1 on any BROKEN, UNDERPOWERED or ERROR."""
        bad = any(r["status"] in ("BROKEN", "UNDERPOWERED", "ERROR") for r in self.records)
        return 1 if bad or self.figure_errors else 0


def run(patterns: Iterable[str] | None = None, *, mode: str = "quick", seed: int = 0,
        out: str | Path | None = None, backend: str = AUTO, workers: int = 1,
        scheduler: str | None = None, modules: Iterable[str] = (), progress: bool = True,
        alpha: float = ALPHA, figures: bool = True, until_decided: bool = False,
        max_trials: int | None = None, fresh: bool = False,
        plan_trials: bool = False, dpi: int = PNG_DPI) -> RunResult:
    """Run (or resume) the claims matching ``patterns`` and write results.json and report.md.

    ``backend="auto"`` (the default) runs each claim on the fastest engine it declares
    (the first of ``Claim.backends`` that is numba or numpy; :func:`engine_for`); a named backend runs every
    selected claim on it ("numpy" is the reference). Each record names its ``engine``.

    ``workers > 1`` uses a local process pool; ``scheduler`` an existing Dask cluster (exclusive
    with ``workers > 1``). ``out`` defaults to :func:`default_out`. Raises ``ValueError`` for an
    unknown claim, mode or backend, and for a backend that a selected claim does not declare
    (``Claim.backends``; ``"cupy"`` is an alias of ``"cuda"``); ``KeyboardInterrupt`` propagates
    after every finished task has been stored.

    Stored evidence is reused only when the claim's configuration, chunk layout and code
    fingerprint (:mod:`depthcheck.validation.run.fingerprint`: the package's source and the
    claim module's) are unchanged; ``RunResult.stale`` names the claims whose stored evidence
    came from other code or configuration and was recomputed. ``fresh=True`` recomputes every
    selected task whatever the store holds. A stored task whose evidence fails its checksum is
    recomputed too (``RunResult.corrupt``, ``manifest["store"]["recomputed_corrupt"]``), and a
    damaged ``store.sqlite`` is moved to ``store.sqlite.corrupt-<UTC time>`` and rebuilt
    (``RunResult.quarantined``). A directory another run is writing raises
    :class:`~depthcheck.validation.run.lock.DirectoryLockedError` (a ``RuntimeError``); a store
    that cannot be opened or is of a newer schema raises
    :class:`~depthcheck.validation.run.store.StoreError` (a ``RuntimeError``), each naming the
    file and what to do. ``RunResult.records`` are this run's records; ``results.json`` also
    holds the carried-over ones (``RunResult.carried``).

    ``plan_trials``: statistical claims whose planned trials leave the interval's half-width
    above δ/2 get the trials a two-stage plan from that pilot predicts, up to ``max_trials``; the
    record's ``extra["planned"]`` says what was planned and whether the budget stopped it.

    ``until_decided``: claims that declare ``Claim.sequential`` are judged by an anytime-valid
    confidence sequence, and while INCONCLUSIVE get more rounds of chunks, up to
    ``max_trials`` trials (default 16 times their planned trials); the decision keeps its error
    rate whenever the sequence stops, and a rerun resumes it from the store.

    ``dpi``: resolution of the PNG figures (>= 72; recorded in the manifest, which ``report``
    reuses); the PDF twins are vector graphics whatever it is.
    """
    t_start = time.perf_counter()
    check_choice(mode, "mode", MODES)
    backend = resolve_backend(backend)
    seed = check_positive_int(seed, "seed", minimum=0)
    if seed > 2**63 - 1:   # the store keys tasks by seed in a signed 64-bit SQLite integer
        raise ValueError(f"seed must be at most 2**63 - 1, got {seed}")
    workers = check_positive_int(workers, "workers")
    dpi = check_positive_int(dpi, "dpi", minimum=72)
    if max_trials is not None:
        max_trials = check_positive_int(max_trials, "max_trials")
        if not (until_decided or plan_trials):
            raise ValueError("max_trials applies to until_decided or plan_trials runs only")
    if scheduler and workers > 1:
        raise ValueError("workers and scheduler are exclusive: choose a process pool or a Dask "
                         "cluster")
    modules = list(modules)
    table = registry.entries(modules)
    claims = registry.select(patterns, modules)
    if not claims:
        raise ValueError("no claims to run: depthcheck.validation.run.registry.CLAIM_MODULES is "
                         "empty and no --module was given")
    refused = [f"{c.id} (supports {', '.join(c.backends)})" for c in claims
               if backend != AUTO and backend not in c.backends]
    if refused:
        raise ValueError(f"backend {backend!r} is not supported by the selected claim"
                         f"{'s' if len(refused) > 1 else ''} {'; '.join(refused)}: select other "
                         f"claims or another --backend")
    out = Path(default_out(mode, seed) if out is None else out)
    out.mkdir(parents=True, exist_ok=True)

    plans: list[tuple[_Plan, ...]] = []
    for c in claims:
        mod = table[c.id][0]
        variants = VARIANTS + tuple(f"mutation:{m.name}" for m in c.mutations if m.simulates)
        engine = engine_for(c, backend)
        plans.append(tuple(_plan(mod, c, v, mode, seed, engine) for v in variants))
    by_variant = {(p.claim.id, p.variant): p for pair in plans for p in pair}

    with RunLock(out):      # one run writes into out at a time; the second refuses by name
        return _run_locked(out, plans, by_variant, claims, modules, t_start, mode=mode,
                           seed=seed, backend=backend, workers=workers, scheduler=scheduler,
                           progress=progress, alpha=alpha, figures=figures,
                           until_decided=until_decided, max_trials=max_trials, fresh=fresh,
                           plan_trials=plan_trials, dpi=dpi)


def _warn(message: str) -> None:
    warnings.warn(message, RunWarning, stacklevel=3)


def _earlier_run(out: Path, mode: str, seed: int, backend: str, alpha: float, selected: set
                 ) -> tuple[list[dict], dict, Path | None]:
    """The records of an earlier run into ``out`` to carry over (claims this run does not
    select, when it had the same mode, seed, backend and alpha), its manifest, and where its
    outputs were moved when they cannot be merged (another mode, seed, backend or alpha, or
    unreadable files): ``out/superseded/<UTC time>/``."""
    if not (out / RESULTS_NAME).exists() and not (out / MANIFEST_NAME).exists():
        return [], {}, None
    try:
        records, manifest = read_run(out)
        same = all(manifest.get(k) == v for k, v in
                   (("mode", mode), ("seed", seed), ("backend", backend), ("alpha", alpha)))
        why = None if same else (
            f"it was run with mode {manifest.get('mode')}, seed {manifest.get('seed')}, backend "
            f"{manifest.get('backend')}, alpha {manifest.get('alpha')}")
    except ValueError as exc:
        records, manifest, why = [], {}, str(exc)
    if why is None:
        earlier = manifest.get("provenance") or {}
        mark = {"run_id": manifest.get("run_id"), "date": earlier.get("date"),
                "command": " ".join(earlier.get("argv") or []) or None}
        carried = []
        for rec in records:
            if rec["id"] not in selected:
                carried.append(rec if "carried_over" in rec else {**rec, "carried_over": mark})
        return carried, manifest, None
    dest = out / SUPERSEDED_DIR / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    while dest.exists():
        dest = dest.with_name(dest.name + "-1")
    dest.mkdir(parents=True)
    for name in _OUTPUTS:
        if (out / name).exists():
            shutil.move(str(out / name), str(dest / name))
    _warn(f"the earlier run in {out} cannot be merged with this one ({why}): its outputs were "
          f"moved to {dest}")
    return [], {}, dest


def _run_locked(out: Path, plans, by_variant, claims, modules, t_start, *, mode, seed, backend,
                workers, scheduler, progress, alpha, figures, until_decided, max_trials, fresh,
                plan_trials, dpi) -> RunResult:
    selected = {pair[0].claim.id for pair in plans}
    carried, earlier_manifest, superseded = _earlier_run(out, mode, seed, backend, alpha,
                                                         selected)
    store = Store(out)
    if store.quarantined is not None:
        _warn(f"{store.path} was damaged ({store.quarantine_reason}): moved to "
              f"{store.quarantined}; the store was rebuilt and its evidence is recomputed")
    try:
        specs = [s for pair in plans for p in pair for s in p.specs]
        pending = list(specs) if fresh else [s for s in specs if not store.has(s.key)]
        reused = len(specs) - len(pending)
        stale = sorted({s.claim_id for s in pending if store.has_other_version(s.key)})
        executor = dict(workers=workers, scheduler=scheduler, progress=progress, mode=mode)
        _execute(pending, store, by_variant, **executor)
        if until_decided:
            more, again = _extend_sequential(plans, store, by_variant, alpha, max_trials,
                                             executor)
            pending += more
            reused += again
        if plan_trials:
            more, again = _extend_planned(plans, store, by_variant, alpha, max_trials, executor,
                                          skip_sequential=until_decided)
            pending += more
            reused += again
        bad = set(store.corrupt)
        corrupt = sorted({s.claim_id for s in pending if s.key in bad})
        if corrupt:
            _warn(f"stored evidence of {len(corrupt)} claim(s) did not match its checksum and "
                  f"was recomputed: {', '.join(corrupt)}")

        records: list[dict] = []
        results: dict[str, tuple[ClaimResult | None, ClaimResult | None]] = {}
        timings: dict[str, dict] = {}
        for pair in plans:
            recs, res = [], []
            for p in pair[:2]:
                r = None
                if p.error is None:
                    try:
                        ev = load_evidence(store, [s.key for s in p.specs], p.sizes,
                                           p.claim.allow_inf)
                        r = _judge(p, ev, alpha)
                        if getattr(p, "sequence", None) is not None:
                            r = _sequential_verdict(p, r)
                        why = None if p.variant == "control" else _misdeclared(
                            p.claim, p, store, r)
                        if why is not None:
                            r = None
                            raise ValueError(f"mis-declared statistical claim: {why}")
                    except Exception as exc:
                        r = None    # a judgement that raised half-way leaves no verdict
                        p.error = f"{type(exc).__name__}: {exc}"
                        p.tb = traceback.format_exc()
                p.elapsed_s = sum(t.elapsed_s for t in (store.get(s.key) for s in p.specs) if t)
                res.append(r)
                recs.append(_record(p, r, alpha))
                timings.setdefault(p.claim.id, {})[p.variant] = {
                    "tasks": len(p.specs), "elapsed_s": p.elapsed_s}
            _link_control(*recs)
            _link_power(recs[0], pair[0].claim,
                        _mutation_records(pair, res[0], store, alpha, timings))
            records.extend(recs)
            results[pair[0].claim.id] = (res[0], res[1])
        # the earlier run's other claims stay, with their evidence, so that their figures are
        # redrawn from it and every figure in out belongs to a record of results.json
        carried_results, carried_claims, not_redrawn = rebuild_results(
            carried, earlier_manifest, store, modules, strict=False)
    finally:
        store.close()
    carried_ids = list(dict.fromkeys(r["id"] for r in carried))
    if not_redrawn:
        _warn(f"claim(s) carried over from the earlier run in {out} could not be rebuilt from "
              f"the store, so they have no figures: " +
              "; ".join(f"{k}: {v}" for k, v in not_redrawn.items()))

    errors = [f"{p.claim.id} [{p.variant}]: {p.error}\n{p.tb}" for pair in plans for p in pair
              if p.error]
    all_claims = {**carried_claims, **{c.id: c for c in claims}}
    manifest = {"mode": mode, "seed": seed, "backend": backend, "alpha": alpha,
                "modules": sorted({p.module for pair in plans for p in pair}
                                  | {r["module"] for r in carried}),
                "claims": [pair[0].claim.id for pair in plans],
                "figure_dpi": dpi,
                "run_id": f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}-"
                          f"{secrets.token_hex(3)}",
                "carried_over": carried_ids,
                "carried_not_redrawn": not_redrawn,
                "superseded": None if superseded is None else
                superseded.relative_to(out).as_posix(),
                "store": {"recomputed_corrupt": corrupt,
                          "quarantined": None if store.quarantined is None else
                          store.quarantined.name,
                          "quarantine_reason": store.quarantine_reason},
                "provenance": provenance(backend, {
                    r["id"]: r.get("engine") or backend
                    for r in [*records, *carried] if not r["control"]})}
    write_json(out / RESULTS_NAME, records + carried)
    write_json(out / MANIFEST_NAME, manifest)
    fig_errors = report.write_report(out, records + carried, manifest,
                                     {**carried_results, **results}, all_claims,
                                     figures=figures, dpi=dpi)
    (out / ERRORS_NAME).write_text("\n\n".join(errors + fig_errors))
    wall = time.perf_counter() - t_start
    write_json(out / TIMINGS_NAME, {"wall_s": wall, "executed_tasks": len(pending),
                                     "reused_tasks": reused, "workers": workers,
                                     "scheduler": scheduler, "claims": timings})
    return RunResult(out, records, len(pending), reused, wall, fig_errors, stale, corrupt,
                     store.quarantined, carried_ids, superseded)


def _execute(pending, store: Store, by_variant: dict, *, workers: int, scheduler, progress: bool,
             mode: str) -> None:
    """Run ``pending`` tasks on the chosen executor, storing each as it finishes; a failing
    task marks its plan's error (the first one is kept)."""
    if not pending:
        return
    stream = executors.task_stream(pending, workers=workers, scheduler=scheduler)
    bar = tqdm(total=len(pending), desc=f"{mode} tasks", unit="task", file=sys.stderr,
               delay=3.0, disable=not progress, dynamic_ncols=True)
    try:
        for spec, output, exc in stream:
            bar.update(1)
            if exc is not None:
                p = by_variant[(spec.claim_id, spec.variant)]
                if p.error is None:
                    p.error = (str(exc) if isinstance(exc, TaskError)
                               else f"{type(exc).__name__}: {exc}")
                    p.tb = getattr(exc, "tb", "") or "".join(
                        traceback.format_exception(type(exc), exc, exc.__traceback__))
                continue
            store.put(spec.key, spec.n_trials, output.evidence, output.elapsed_s)
    finally:
        bar.close()
        stream.close()


def _confidence_sequence(seq: Sequential, alpha: float):
    # alpha/2 per side as the fixed-n intervals spend it: P(false FAIL ever) <= alpha/2
    if seq.support is not None:
        return sequential.BettingCS(alpha, seq.support)
    return sequential.TMixtureCS(alpha)


def _sequence_values(plan: _Plan, store: Store) -> np.ndarray:
    """The per-trial values (betting CS) or chunk means (t-mixture) of a sequential claim, in
    trial order, from every stored chunk of the plan."""
    seq = plan.claim.sequential
    ev = load_evidence(store, [s.key for s in plan.specs], plan.sizes, plan.claim.allow_inf)
    if seq.key not in ev:
        raise ValueError(f"claim {plan.claim.id}: Sequential.key {seq.key!r} is not an evidence "
                         f"key (keys: {sorted(ev)})")
    x = np.asarray(ev[seq.key], dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"claim {plan.claim.id}: evidence {seq.key!r} must hold one value per "
                         f"trial for a sequential decision, got shape {x.shape}")
    if seq.support is not None:
        return x
    size = plan.sizes[0]
    full = [i for i, n in enumerate(plan.sizes) if n == size]   # equal-size chunks only
    return np.array([x[i * size:(i + 1) * size].mean() for i in full])


def _extension_specs(plan: _Plan, n_chunks: int) -> list[TaskSpec]:
    """``n_chunks`` more chunks of ``plan`` on fresh chunk indices (fresh random streams; a
    mutation's extension uses the claim's streams of the same indices), keyed by the planned
    layout's hash so that a rerun finds them."""
    size, first, base = plan.sizes[0], len(plan.specs), plan.specs[0]
    return [TaskSpec(plan.module, plan.claim.id, plan.claim.seed_key, plan.variant, first + j,
                     first + j + 1, size, plan.mode, base.seed, base.backend, base.config_hash)
            for j in range(n_chunks)]


def _extend_planned(plans, store: Store, by_variant: dict, alpha: float,
                    max_trials: int | None, executor: dict, skip_sequential: bool
                    ) -> tuple[list, int]:
    """``--plan-trials``: a two-stage plan (Stein's): the planned trials are the pilot; when the
    pilot's interval is wider than δ/2 the claim (and its simulating mutations, on the same
    random streams) get the chunks that bring the half-width to δ/2, predicted from the pilot's
    half-width by the 1/√n law, capped at ``max_trials`` (default 16 times the planned trials).
    Only the variance enters the plan, never the estimate, so the fixed-n interval keeps its
    level. The record says what was planned and whether the cap stopped it."""
    ran, reused = [], 0
    for pair in plans:
        plan = pair[0]
        claim = plan.claim
        if (claim.kind == "exact" or claim.sensitivity is None or plan.error is not None
                or (skip_sequential and claim.sequential is not None)):
            continue
        target = claim.sensitivity.at(plan.mode) / 2
        n0 = sum(plan.sizes)
        cap = max_trials if max_trials is not None else 16 * n0
        size = plan.sizes[0]
        # up to three stages: each predicts from the interval so far (its width depends on the
        # spread only, never on where the estimate lies)
        for _ in range(3):
            n = sum(plan.sizes)
            try:
                ev = load_evidence(store, [s.key for s in plan.specs], plan.sizes,
                                   claim.allow_inf)
                lo, hi = _judge(plan, ev, alpha).verdict.ci
            except Exception:
                break       # judged (and reported) with the trials it has, below
            hw = 0.5 * (hi - lo)
            need = n if hw <= target else math.ceil(n * (hw / target) ** 2 * 1.05)
            planned = min(max(need, n), cap)
            k = max(0, -(-(planned - n) // size))
            if plan.planned is None:
                plan.planned = {"pilot_trials": n0, "pilot_half_width": hw,
                                "target_half_width": target}
            plan.planned.update({"planned_trials": n + k * size, "needed_trials": need,
                                 "budget": cap, "reached_budget": need > cap})
            if k == 0:
                break
            for p in (plan, *pair[2:]):
                new = _extension_specs(p, k)
                todo = [t for t in new if not store.has(t.key)]
                reused += len(new) - len(todo)
                _execute(todo, store, by_variant, **executor)
                ran += todo
                if p.error is None:
                    p.specs.extend(new)
                    p.sizes.extend([size] * k)
            if plan.error is not None:
                break
    return ran, reused


def _extend_sequential(plans, store: Store, by_variant: dict, alpha: float,
                       max_trials: int | None, executor: dict) -> tuple[list, int]:
    """``--until-decided``: while a sequential claim is INCONCLUSIVE under its confidence
    sequence and below ``max_trials``, add rounds of chunks (as many as the claim planned, on
    fresh chunk indices, so on fresh random streams) and store them. Stored extension chunks
    are reused, so an interrupted sequence resumes where it stopped. Returns (tasks run,
    tasks reused)."""
    ran, reused = [], 0
    for pair in plans:
        plan = pair[0]
        claim = plan.claim
        if claim.sequential is None or plan.error is not None:
            continue
        cap = max_trials if max_trials is not None else 16 * sum(plan.sizes)
        base_specs = list(plan.specs)
        size = plan.sizes[0]
        cs = _confidence_sequence(claim.sequential, alpha)
        stmt = claim.sequential.statement(plan.cfg, claim.predict(plan.cfg))
        while True:
            x = _sequence_values(plan, store)
            d = sequential.sequential_decision(x, stmt, cs)
            plan.sequence = (d, cap)
            n = sum(plan.sizes)
            if d.decision != "INCONCLUSIVE" or n + size > cap:
                break
            rounds = min(len(base_specs), (cap - n) // size)
            new = _extension_specs(plan, rounds)
            todo = [t for t in new if not store.has(t.key)]
            reused += len(new) - len(todo)
            _execute(todo, store, by_variant, **executor)
            ran += todo
            if plan.error is not None:
                break
            plan.specs.extend(new)
            plan.sizes.extend([size] * len(new))
    return ran, reused


def _sequential_verdict(plan: _Plan, res: ClaimResult) -> ClaimResult:
    """Replace the fixed-n verdict of a claim run with ``--until-decided`` by the decision of
    its confidence sequence (valid at whatever trial the runner stopped)."""
    d, cap = plan.sequence
    pred = res.verdict.prediction
    budget = "" if d.decision != "INCONCLUSIVE" else (
        f" Not resolved within the budget of {cap} trials: the confidence sequence would need "
        f"more (raise --max-trials).")
    lo, hi = d.ci
    if d.empty:   # the running intersection missed every value: reads as FAIL (see sequential)
        budget += " The confidence sequence's running intersection is empty."
        lo, hi = hi, lo
    v = Verdict(d.decision, d.estimate, (lo, hi), pred, res.verdict.alpha,
                f"Anytime-valid {d.method} confidence sequence over {d.n} observations "
                f"({sum(plan.sizes)} trials; decided at observation {d.decided_at}) for the "
                f"statement on the mean of {plan.claim.sequential.key!r}.{budget} "
                f"Fixed-n judge at the same trials: {res.verdict.verdict} "
                f"({res.verdict.detail})",
                {**res.verdict.extra, "sequential": {
                    "method": d.method, "observations": d.n, "decided_at": d.decided_at,
                    "max_trials": cap, "base_trials": plan.base_trials,
                    "fixed_n_verdict": res.verdict.verdict}})
    return ClaimResult(res.id, res.control, res.config, res.prediction, res.evidence, v,
                       res.trials)


def _mutation_records(pair, claim_res: ClaimResult | None, store: Store, alpha: float,
                      timings: dict) -> list[dict]:
    """Judge every mutation of the claim of ``pair`` (its plans: claim, control, then one per
    simulating mutation); a mutation that cannot be judged is recorded with verdict ERROR."""
    claim_plan = pair[0]
    claim = claim_plan.claim
    own = {p.variant: p for p in pair[2:]}
    out = []
    for m in claim.mutations:
        p = own.get(f"mutation:{m.name}")
        try:
            if p is not None:
                if p.error is not None:
                    raise RuntimeError(p.error)
                ev = load_evidence(store, [s.key for s in p.specs], p.sizes, claim.allow_inf)
                p.elapsed_s = sum(t.elapsed_s for t in (store.get(s.key) for s in p.specs) if t)
                timings.setdefault(claim.id, {})[p.variant] = {
                    "tasks": len(p.specs), "elapsed_s": p.elapsed_s}
            elif claim_res is not None:
                ev = claim_res.evidence
            else:
                raise RuntimeError("the claim's own evidence is missing (the claim errored)")
            out.append(_judge_mutation(claim, m.name, claim_plan.cfg, ev, sum(claim_plan.sizes),
                                       alpha))
        except Exception as exc:
            out.append({"name": m.name, "description": m.description, "verdict": "ERROR",
                        "statistic": None, "ci": [None, None],
                        "detail": f"ERROR: {type(exc).__name__}: {exc}"})
    return out


def resolve_backend(backend: str) -> str:
    """The canonical name of ``backend``: "auto", one of :data:`BACKENDS`, or an alias of one
    (e.g. "cupy" for "cuda")."""
    name = BACKEND_ALIASES.get(backend, backend)
    check_choice(name, "backend", (AUTO, *BACKENDS))
    return name


def engine_for(claim: Claim, backend: str) -> str:
    """The engine ``claim`` runs on when the run asks for ``backend``.

    A named backend is returned as it is (the runner refuses it beforehand if the claim does
    not declare it); "auto" gives the first backend the claim declares (``Claim.backends``
    lists them fastest first) that is in :data:`AUTO_ORDER`, else the first it declares.

    Examples
    --------
    >>> from depthcheck.validation.run.registry import select
    >>> decay, shift = select(["bn_orthogonal.isometry_decay", "lcw.activation_shift"])
    >>> engine_for(decay, "auto"), engine_for(shift, "auto"), engine_for(decay, "numpy")
    ('numba', 'numpy', 'numpy')
    """
    backend = resolve_backend(backend)
    if backend != AUTO:
        return backend
    return next((b for b in claim.backends if b in AUTO_ORDER), claim.backends[0])
