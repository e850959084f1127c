"""The files of a run directory and the evidence in its store: written by the runner, read back
by the runner (to judge) and by the report (to redraw a finished run).

A run directory holds ``results.json`` (one record per claim and per control, deterministic),
``manifest.json`` (mode, seed, backend, alpha, modules, claims, run id, carried-over claims,
store repairs, provenance), ``timings.json``, ``errors.log``, ``store.sqlite``
(:mod:`depthcheck.validation.run.store`), ``report.md`` and ``figures/``, and ``run.lock`` while
a run writes into it (:mod:`depthcheck.validation.run.lock`). JSON files are replaced atomically
through temporary files unique to their writer.
This module knows how records map back to the stored tasks: a record's ``config``, ``trials`` and
``chunk`` fix its chunk layout and configuration hash (:func:`layout_hash`).
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np

from depthcheck.validation.claims.claim import ClaimResult, Verdict, chunk_sizes, config_hash
from depthcheck.validation.run import registry
from depthcheck.validation.run.lock import DirectoryLockedError, holder
from depthcheck.validation.run.store import Store, TaskKey, unpack_evidence

__all__ = ["RESULTS_NAME", "MANIFEST_NAME", "TIMINGS_NAME", "ERRORS_NAME", "write_json",
           "layout_hash", "check_evidence", "load_evidence", "rebuild_results", "read_run",
           "load_run"]

RESULTS_NAME = "results.json"
MANIFEST_NAME = "manifest.json"
TIMINGS_NAME = "timings.json"
ERRORS_NAME = "errors.log"


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically: to a temporary file of this process alone
    (``NAME.<pid>.<random>.tmp``), then renamed over ``path``, so neither a crash nor another
    writer ever leaves half a file."""
    path = Path(path)
    text = json.dumps(obj, indent=1) + "\n"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def layout_hash(cfg: dict, sizes: list[int], code: str = "") -> str:
    """Hash keying a task in the store: the scientific configuration, the chunk layout (the
    layout decides every chunk's seed, so it is part of a task's identity) and the fingerprint
    of the code that computes it (:mod:`depthcheck.validation.run.fingerprint`)."""
    key = {"config": cfg, "chunks": list(sizes)}
    if code:
        key["code"] = code
    return config_hash(key)


def check_evidence(evidence, n_trials: int, allow_inf, where: str) -> dict[str, np.ndarray]:
    """Validate one chunk's evidence: a non-empty dict of numeric arrays with leading axis
    ``n_trials``, finite except +-inf in the keys of ``allow_inf``; NaN is never accepted.
    ``where`` (claim, variant, chunk, seed, configuration) is named in every error."""
    if not isinstance(evidence, dict) or not evidence:
        raise ValueError(f"simulate must return a non-empty dict of arrays, got "
                         f"{type(evidence).__name__} from {where}")
    allow_inf = set(allow_inf)
    out = {}
    for k, v in evidence.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise ValueError(f"evidence key {k!r} must be a non-empty str without '/' ({where})")
        a = np.asarray(v)
        if a.dtype.kind not in "biufc":
            raise ValueError(f"evidence {k!r} must be numeric, got dtype {a.dtype} ({where})")
        if a.ndim < 1 or a.shape[0] != n_trials:
            raise ValueError(f"evidence {k!r} must have leading axis n_trials={n_trials}, "
                             f"got shape {a.shape} ({where})")
        if a.dtype.kind in "fc":
            nan = int(np.count_nonzero(np.isnan(a)))
            inf = int(np.count_nonzero(np.isinf(a))) if k not in allow_inf else 0
            if nan or inf:
                raise ValueError(f"non-finite evidence {k!r} ({nan} NaN, {inf} inf of {a.size}) "
                                 f"from {where}")
        out[k] = a
    return out


def load_evidence(store: Store, keys: list[TaskKey], sizes: list[int], allow_inf
                  ) -> dict[str, np.ndarray]:
    """The evidence of one claim or control: its stored chunks, validated, concatenated per key
    in chunk order. A missing chunk or chunks with different keys raise."""
    chunks = []
    for key, n in zip(keys, sizes):
        rec = store.get(key)
        where = f"claim {key.claim_id} [{key.variant}] chunk {key.chunk}"
        if rec is None:
            if key in store.corrupt:
                raise RuntimeError(
                    f"the stored evidence of task {where} in {store.path} is corrupt (it does not "
                    f"match its checksum): rerun `python -m depthcheck run` with the same options "
                    f"into {store.path.parent} to recompute it")
            raise RuntimeError(f"task {where} is not in the store {store.path}")
        ev = check_evidence(unpack_evidence(rec.evidence), n, allow_inf, where)
        if chunks and set(ev) != set(chunks[0]):
            raise ValueError(f"{where} has evidence keys {sorted(ev)}, chunk 0 has "
                             f"{sorted(chunks[0])}")
        chunks.append(ev)
    return {k: np.concatenate([c[k] for c in chunks], axis=0) for k in chunks[0]}


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable {what} ({type(exc).__name__}: {exc}): "
                         f"rerun the run into {path.parent} to rewrite it") from exc


def read_run(out: str | Path) -> tuple[list[dict], dict]:
    """(records, manifest) of the run in ``out``; ``ValueError`` naming the file when either is
    missing, not JSON, or not of this layout."""
    out = Path(out)
    try:
        records = _read_json(out / RESULTS_NAME, "results file")
        manifest = _read_json(out / MANIFEST_NAME, "run manifest")
    except FileNotFoundError as exc:
        raise ValueError(f"{out} holds no finished run ({exc.filename} missing)") from exc
    if not isinstance(records, list) or not all(
            isinstance(r, dict) and {"id", "module", "status", "verdict", "control"} <= set(r)
            for r in records):
        raise ValueError(f"{out / RESULTS_NAME} is not a list of depthcheck claim records")
    if not isinstance(manifest, dict) or not {"mode", "seed", "backend"} <= set(manifest):
        raise ValueError(f"{out / MANIFEST_NAME} is not a depthcheck run manifest (it needs "
                         f"mode, seed and backend)")
    return records, manifest


def rebuild_results(records: list[dict], manifest: dict, store: Store, modules=(),
                    strict: bool = True) -> tuple[dict, dict, dict]:
    """Rebuild (results, claims, problems) of ``records`` from the stored evidence.

    ``results`` maps claim id to [claim ClaimResult, control ClaimResult] rebuilt from the
    stored evidence; verdicts come from the records, predictions are recomputed with the current
    ``predict``. Claims are found by id (or former id) in the module named by each record, else
    among the registered ones and ``modules``. With ``strict`` the first claim that cannot be
    rebuilt raises; otherwise ``problems`` maps its id to why (and its results are None).
    """
    claims, results, problems = {}, {}, {}
    for rec in records:
        if rec["id"] in problems:
            continue
        try:
            if "chunk" not in rec:
                raise ValueError(f"{RESULTS_NAME} was written by an older depthcheck (record "
                                 f"{rec['id']} has no 'chunk'): rerun it")
            claim = registry.find_claim(rec["id"], rec["module"], modules)
            claims[rec["id"]] = claim
            pair = results.setdefault(rec["id"], [None, None])
            if rec["status"] == "ERROR" and rec["verdict"] == "ERROR":
                continue
            cfg = rec["config"]
            variant = "control" if rec["control"] else "claim"
            sizes = chunk_sizes(rec["trials"], rec["chunk"])
            seq = (rec.get("extra") or {}).get("sequential")
            base = (seq or {}).get("base_trials") or (rec.get("planned") or {}).get("pilot_trials")
            # a run extended by --until-decided or --plan-trials keeps the planned layout's hash
            h = layout_hash(cfg, chunk_sizes(base, rec["chunk"]) if base else sizes,
                            rec.get("code", ""))
            keys = [TaskKey(rec["id"], variant, i, manifest["mode"], manifest["seed"],
                            rec.get("engine") or manifest["backend"], h)
                    for i in range(len(sizes))]
            ev = load_evidence(store, keys, sizes, claim.allow_inf)
            v = Verdict(rec["verdict"], rec["statistic"], tuple(rec["ci"]), rec["prediction"],
                        rec["alpha"], rec["detail"], rec["extra"])
            pair[1 if rec["control"] else 0] = ClaimResult(
                rec["id"], rec["control"], cfg, claim.predict(cfg), ev, v, rec["trials"])
        except Exception as exc:
            if strict:
                raise
            problems[rec["id"]] = f"{type(exc).__name__}: {exc}"
            results[rec["id"]] = [None, None]
    return {k: tuple(v) for k, v in results.items()}, claims, problems


def load_run(out: str | Path, modules=(), check_lock: bool = True
             ) -> tuple[list[dict], dict, dict, dict]:
    """Rebuild (records, manifest, results, claims) of a finished run from ``out``
    (:func:`read_run`, :func:`rebuild_results`). Used by ``python -m depthcheck report DIR``.

    Refuses (``DirectoryLockedError``) while a run writes into ``out`` (``check_lock=False``:
    the caller holds :class:`~depthcheck.validation.run.lock.RunLock` itself); a missing store
    raises ``StoreMissingError`` (no empty store is created) and a damaged one
    ``StoreCorruptError``, each naming the file and how to recover.
    """
    out = Path(out)
    who = holder(out) if check_lock else None
    if who is not None:
        raise DirectoryLockedError(f"{out} is being written by a run: {who}; wait for it to "
                                   f"finish, then regenerate the report", who)
    records, manifest = read_run(out)
    with Store(out, create=False, on_corrupt="raise") as store:
        results, claims, _ = rebuild_results(records, manifest, store, modules)
    return records, manifest, results, claims
