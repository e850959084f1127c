"""Command line: ``python -m depthcheck {list,run,report,bench}`` (``--help`` on each)."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sqlite3
import sys
import tempfile
import textwrap
from pathlib import Path

from depthcheck import __version__
from depthcheck.validation import bench
from depthcheck.validation.claims import stats
from depthcheck.validation.claims.plotting import PNG_DPI
from depthcheck.validation.run import estimate, registry, report, runner
from depthcheck.validation.run.executors import (CONNECT_TIMEOUT_S, WORKER_TIMEOUT_S,
                                                 ExecutorError)
from depthcheck.validation.run.results import MANIFEST_NAME, RESULTS_NAME
from depthcheck.validation.run.lock import DirectoryLockedError
from depthcheck.validation.run.store import STORE_NAME, StoreError

__all__ = ["main", "build_parser"]

_DESCRIPTION = textwrap.dedent(f"""\
    Check theorems about deep random networks against simulation.

    Each claim compares a theory prediction with Monte Carlo evidence and is judged PASS, FAIL or
    INCONCLUSIVE from a confidence interval at level 1 - alpha, alpha = {stats.ALPHA:g} per judged
    statement (Bonferroni: a quick run of the whole suite reports a false FAIL with probability
    below {stats.SUITE_FALSE_FAIL:g}). Every claim also runs a negative control through the same
    code, which must FAIL; a claim whose control does not FAIL is BROKEN.""")

#: Exit statuses of the command line (documented in every ``--help``).
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FILES, EXIT_EXECUTOR, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

_EXIT_CODES = f"""\
    exit status:
      0  every selected claim ran, every control failed and every statistical claim's
         data-side mutations failed (FAIL verdicts of claims are findings, not crashes,
         unless --strict)
      1  some claim is BROKEN (its control did not fail), UNDERPOWERED (a mutation did not
         fail, or none is declared) or errored, or a figure failed; with --strict, also
         when a selected claim's verdict is FAIL
      2  bad usage: unknown claim id, unknown module, empty or bad option value (--seed
         outside 0..2**63-1), DIR of 'report' is not a run's output directory
      3  file-system or store error: --out (or --json) is a file, lies under a file, is not
         writable or on a read-only file system, the disk is full, or a file of the run
         directory (results.json, manifest.json, store.sqlite) is missing, unreadable or not
         in depthcheck's format, or DIR is in use by another run (the lock names it); the
         tasks finished before are kept in DIR/store.sqlite, so rerunning the same command
         resumes
      4  executor error: --scheduler is not a reachable Dask scheduler (no answer within
         {CONNECT_TIMEOUT_S:g} s, a closed connection or a reply that is not a scheduler's), or the cluster has
         no worker (none within {WORKER_TIMEOUT_S:g} s, or every worker lost during the run); finished tasks
         are kept, rerun the same command to resume
      130 interrupted (Ctrl-C); rerun the same command to resume
"""

_EPILOG = textwrap.dedent(_EXIT_CODES + """\

    examples:
      python -m depthcheck list
      python -m depthcheck run --quick               # the whole suite, quick settings
      python -m depthcheck run bn_orthogonal --full --workers 2
      python -m depthcheck run bn_orthogonal.bounded_gradients --backend numba
      python -m depthcheck run --module mypkg.claims mypkg
      python -m depthcheck run --scheduler tcp://127.0.0.1:8786
      python -m depthcheck report results/quick-seed0
      python -m depthcheck run --strict --module mypkg.claims mypkg   # gate CI on FAIL
      python -m depthcheck bench --quick --json bench.json""")

#: ``bench --help``'s epilog: the bench's own exit statuses (it judges no claim)
_BENCH_EPILOG = textwrap.dedent("""\
    exit status:
      0  every benchmark module ran; the table is printed (and written with --json)
      2  bad usage: an unknown benchmark module or one without bench(quick), an empty option
         value, or a benchmark that raised ValueError or RuntimeError (its message is printed)
      3  --json FILE cannot be written: a directory, in a missing or read-only directory
      130 interrupted (Ctrl-C)

    examples:
      python -m depthcheck bench --quick                      # every module, small sizes
      python -m depthcheck bench --json bench.json            # full sizes, about 17 min
      python -m depthcheck bench depthcheck.validation.bench.jax_chain""")

_SEED_MAX = 2 ** 63 - 1     # seeds are stored as SQLite INTEGER (signed 64 bit)


class FileError(OSError):
    """A file-system or store problem the user can fix (exit status 3), with its message."""


def _nonempty(what: str):
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"empty {what}: give a value or leave the option "
                                             f"out")
        return text
    return parse


def _path(what: str):
    def parse(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"empty path for {what} (use '.' for the current "
                                             f"directory)")
        return Path(text)
    return parse


def _dpi(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dpi must be an integer, got {text!r}") from None
    if value < 72:
        raise argparse.ArgumentTypeError(f"--dpi must be at least 72, got {value}")
    return value


def _positive(what: str):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a positive int, got {text!r}"
                                             ) from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"{what} must be a positive int, got {n}")
        return n
    return parse


def _seed(text: str) -> int:
    try:
        s = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an int, got {text!r}") from None
    if not 0 <= s <= _SEED_MAX:
        raise argparse.ArgumentTypeError(f"--seed must lie in 0..2**63-1 = {_SEED_MAX}, got {s}")
    return s


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_out_dir(out: Path, what: str = "--out") -> None:
    """Refuse an output directory that cannot be created or written, before anything runs."""
    if out.exists():
        if not out.is_dir():
            raise FileError(f"{what} {out} is a file, not a directory")
        try:        # a real write: catches read-only file systems and permissions, even as root
            fd, probe = tempfile.mkstemp(prefix=".depthcheck-probe-", dir=out)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise FileError(f"{what} {out} is not writable: {exc.strerror or exc}") from None
        return
    base = _nearest_existing(out)
    if not base.is_dir():
        raise FileError(f"{what} {out} cannot be created: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise FileError(f"{what} {out} cannot be created: {base} is not writable")


def _check_json_path(path: Path) -> None:
    """Refuse a ``bench --json`` file that cannot be written, before any benchmark runs."""
    if path.is_dir():
        raise FileError(f"--json {path} is a directory, not a file")
    parent = path.absolute().parent
    if not parent.exists():
        raise FileError(f"--json {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise FileError(f"--json {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise FileError(f"--json {path} is not writable")


_RECORD_KEYS = ("id", "module", "control", "status", "verdict", "statistic", "ci", "prediction",
                "alpha", "trials", "config", "detail", "extra")
_MANIFEST_KEYS = ("mode", "seed", "backend")


def _check_run_dir(d: Path) -> None:
    """Refuse, with the reason, a ``report`` DIR that is not a finished run's directory (exit
    status 2) or whose files are missing or not in depthcheck's format (exit status 3). Never
    creates anything (a missing store stays missing)."""
    if not d.exists():
        raise ValueError(f"{d} does not exist: give the output directory of a run")
    if not d.is_dir():
        raise ValueError(f"{d} is a file, not the output directory of a run")
    if not (d / RESULTS_NAME).exists():
        raise ValueError(f"{d} holds no finished run ({RESULTS_NAME} missing)")
    docs = {}
    for name in (RESULTS_NAME, MANIFEST_NAME):
        f = d / name
        try:
            docs[name] = json.loads(f.read_text())
        except FileNotFoundError:
            raise FileError(f"{f} is missing: rerun the run that wrote {d}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileError(f"{f} is not valid JSON ({exc}): rerun the run that wrote {d}"
                            ) from None
    recs, man = docs[RESULTS_NAME], docs[MANIFEST_NAME]
    bad = None
    if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
        bad = f"{RESULTS_NAME} must be a list of records, got {type(recs).__name__}"
    elif not isinstance(man, dict) or any(k not in man for k in _MANIFEST_KEYS):
        bad = f"{MANIFEST_NAME} must be an object with keys {list(_MANIFEST_KEYS)}"
    else:
        for i, r in enumerate(recs):
            missing = [k for k in _RECORD_KEYS if k not in r]
            if missing:
                bad = f"record {i} of {RESULTS_NAME} lacks {missing}"
                break
    if bad is not None:
        raise FileError(f"{d} is not in the format of this depthcheck ({bad}): rerun the run "
                        f"with this version")
    if not (d / STORE_NAME).is_file():
        raise FileError(f"{d / STORE_NAME} is missing: the evidence of the run is gone; rerun "
                        f"the run that wrote {d}")


def _describe_os_error(exc: OSError) -> str:
    what = f"{exc.strerror}" if exc.strerror else str(exc)
    name = exc.filename if exc.filename is not None else None
    if exc.errno == errno.ENOSPC:
        what = "no space left on device (disk full)"
    elif exc.errno == errno.EROFS:
        what = "read-only file system"
    return f"{name}: {what}" if name else what


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m depthcheck", description=_DESCRIPTION,
                                epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"depthcheck {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{list,run,report,bench}", required=True)

    mod_help = ("also load claims from the importable module MOD (it defines CLAIMS, a list of "
                "depthcheck.validation.claims.claim.Claim); repeatable. Installed packages can "
                f"register theirs in the entry-point group {registry.ENTRY_POINT_GROUP!r}")

    q = sub.add_parser("list", help="list the claims: id, title, source",
                       description="List every registered claim (id, title, source).")
    q.add_argument("--module", action="append", default=[], metavar="MOD",
                   type=_nonempty("--module"), help=mod_help)

    r = sub.add_parser(
        "run", help="run claims and their negative controls, print the verdict table",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Run the selected claims and their controls, store every finished task in
            DIR/store.sqlite, and write DIR/results.json (one record per claim and per control),
            DIR/report.md, DIR/figures/*.png, DIR/timings.json and DIR/errors.log.
            Rerunning the same command resumes: stored tasks are not recomputed and the results
            are identical to an uninterrupted run with the same seed."""),
        epilog=_EPILOG)
    r.add_argument("claims", nargs="*", metavar="CLAIM_OR_PREFIX", type=_nonempty("claim id"),
                   help="claim ids (exactly that claim), group prefixes ending at a dot "
                        "(e.g. 'bn_orthogonal') or globs ('bn_orthogonal.bounded_*'); former ids "
                        "(e.g. 'seed001.isometry_decay', 'seed001') are accepted; default: all")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="quick configurations (default): the whole suite in minutes on 2 cores")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="full configurations: the papers' scale (about 55 min on 2 cores with "
                        "--workers 2; results/reference-full is its report)")
    r.set_defaults(mode="quick")
    r.add_argument("--seed", type=_seed, default=0, metavar="S",
                   help="master seed (an int in 0..2**63-1, default 0); every task's stream is "
                        "derived from (S, claim id, claim/control, chunk)")
    r.add_argument("--out", type=_path("--out"), default=None, metavar="DIR",
                   help="output directory (default results/{mode}-seed{S}); reuse it to resume")
    r.add_argument("--backend", choices=[runner.AUTO, *runner.BACKENDS,
                                         *runner.BACKEND_ALIASES],
                   default=runner.AUTO,
                   help="engine of the simulations. Default auto: each claim on the fastest "
                        "engine it supports (numba, else numpy); the report names each claim's "
                        "engine. numpy is the reference; cupy is an alias of cuda. A named "
                        "backend that a selected claim does not support is refused by name "
                        "(exit status 2)")
    x = r.add_mutually_exclusive_group()
    x.add_argument("--workers", type=_positive("--workers"), default=1, metavar="N",
                   help="run tasks on a local pool of N processes (default 1: in this process)")
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   type=_nonempty("--scheduler address"),
                   help="run tasks on an existing Dask cluster, e.g. tcp://host:8786 (needs "
                        "dask.distributed; workers must be able to import depthcheck). The "
                        f"scheduler must answer within {CONNECT_TIMEOUT_S:g} s and have a "
                        f"worker within {WORKER_TIMEOUT_S:g} s (exit status 4 otherwise)")
    r.add_argument("--module", action="append", default=[], metavar="MOD",
                   type=_nonempty("--module"), help=mod_help)
    r.add_argument("--until-decided", action="store_true",
                   help="claims that declare a sequential statement are judged by an "
                        "anytime-valid confidence sequence and, while INCONCLUSIVE, get more "
                        "rounds of chunks (the error rate holds whenever the run stops; a "
                        "rerun resumes the sequence)")
    r.add_argument("--plan-trials", action="store_true",
                   help="statistical claims whose interval is wider than delta/2 after their "
                        "planned trials (the pilot) get the trials a two-stage plan predicts, "
                        "up to --max-trials; the report says when the budget stopped it")
    r.add_argument("--max-trials", type=_positive("--max-trials"), default=None, metavar="N",
                   help="with --until-decided or --plan-trials: at most N trials per claim "
                        "(default 16 times the claim's planned trials)")
    r.add_argument("--estimate", action="store_true",
                   help="print the planned tasks and the expected time of each claim from one "
                        "pilot chunk per claim (stored, so the run reuses it), then stop")
    r.add_argument("--fresh", action="store_true",
                   help="recompute every selected task even if DIR/store.sqlite holds it (stored "
                        "evidence is otherwise reused only when the claim's parameters and the "
                        "code fingerprint are unchanged)")
    r.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any selected claim's verdict is FAIL (by "
                        "default a FAIL is a finding and the status is 0), so that a run of "
                        "your own claims can gate continuous integration")
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.add_argument("--no-figures", action="store_true", help="skip drawing the figures")
    r.add_argument("--dpi", type=_dpi, default=PNG_DPI, metavar="N",
                   help=f"resolution of the PNG figures (default {PNG_DPI}; the PDF twins are "
                        "vector graphics); the committed reference report uses 110")

    rp = sub.add_parser("report", help="regenerate DIR/report.md and figures from a finished run",
                        description="Rewrite DIR/report.md and DIR/figures from DIR/results.json "
                                    "and the evidence in DIR/store.sqlite (no simulation).",
                        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("dir", type=_path("DIR"), metavar="DIR", help="output directory of a run")
    rp.add_argument("--no-figures", action="store_true", help="skip drawing the figures")
    rp.add_argument("--dpi", type=_dpi, default=None, metavar="N",
                    help="resolution of the PNG figures (default: the run's)")
    rp.add_argument("--module", action="append", default=[], metavar="MOD",
                   type=_nonempty("--module"), help=mod_help)

    b = sub.add_parser("bench", help="time the kernels against baselines",
                       description="Run the benchmark modules (default: "
                                   "depthcheck.validation.bench.BENCH_MODULES), print a table and optionally "
                                   "write the rows as a JSON list. Columns: workload, ours_s, "
                                   "baseline, baseline_s, ratio (= baseline_s / ours_s), gflops, "
                                   "floor_s (a lower bound on the time).",
                       epilog=_BENCH_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("modules", nargs="*", metavar="MODULE",
                   help="benchmark modules to run instead of the default list")
    b.add_argument("--quick", action="store_true",
                   help="small sizes (about 80 s on 2 cores; the full sizes take about 17 min)")
    b.add_argument("--json", type=_path("--json"), default=None, metavar="FILE",
                   help="write the rows as a JSON list to FILE (its directory must exist; "
                        "checked before any benchmark runs)")
    return p


def _cmd_list(args) -> int:
    claims = registry.all_claims(args.module)
    if not claims:
        print("no claims registered (depthcheck.validation.run.registry.CLAIM_MODULES is empty)")
        return 0
    items = registry.not_checkable(args.module)
    w = max(len(c.id) for c in [*claims, *items])
    for c in claims:
        print(f"{c.id.ljust(w)}  {c.title}  [{c.source}]")
    if items:
        print("\nnot checkable here (the paper's statement, why, and what is checked instead):")
        for i in items:
            instead = f" Instead: {', '.join(i.instead)}." if i.instead else ""
            why = i.why if i.why.rstrip().endswith(".") else i.why.rstrip() + "."
            print(f"{i.id.ljust(w)}  {i.item}: not checkable here: {why}{instead}  "
                  f"[{i.source}]")
    return 0


def _cmd_run(args) -> int:
    _check_out_dir(runner.default_out(args.mode, args.seed) if args.out is None else args.out)
    if args.estimate:
        rows = estimate.estimate(args.claims, mode=args.mode, seed=args.seed, out=args.out,
                                 backend=args.backend, modules=args.module,
                                 workers=args.workers)
        print(estimate.format_estimate(rows, workers=args.workers))
        return 0
    res = runner.run(args.claims, mode=args.mode, seed=args.seed, out=args.out,
                     backend=args.backend, workers=args.workers, scheduler=args.scheduler,
                     modules=args.module, progress=not args.no_progress,
                     figures=not args.no_figures, until_decided=args.until_decided,
                     max_trials=args.max_trials, fresh=args.fresh,
                     plan_trials=args.plan_trials, dpi=args.dpi)
    print(report.format_table(res.records))
    if res.stale:
        print(f"stored evidence of {len(res.stale)} claim(s) came from other code or another "
              f"configuration and was recomputed: {', '.join(res.stale)}", file=sys.stderr)
    print(f"\n{res.executed} tasks run, {res.reused} reused from the store, "
          f"{res.wall_s:.1f} s; results in {res.out}/{runner.RESULTS_NAME}, report in "
          f"{res.out}/{report.REPORT_NAME}")
    bad = [r for r in res.records
           if r["status"] in ("BROKEN", "UNDERPOWERED", "ERROR") and not r["control"]]
    why = {"BROKEN": lambda r: "its control did not FAIL",
           "UNDERPOWERED": lambda r: r.get("underpowered", "a mutation did not FAIL"),
           "ERROR": lambda r: r["detail"].removeprefix("ERROR: ")}
    for r in bad:
        print(f"{r['status']}: {r['id']}: {why[r['status']](r)}", file=sys.stderr)
    if bad or res.figure_errors:
        print(f"details in {res.out}/{runner.ERRORS_NAME} and {res.out}/{report.REPORT_NAME}",
              file=sys.stderr)
    for e in res.figure_errors:
        print(e.splitlines()[0], file=sys.stderr)
    code = res.exit_code
    if args.strict:
        failed = [r["id"] for r in res.records if not r["control"] and r["verdict"] == "FAIL"]
        for cid in failed:
            print(f"FAIL (--strict): {cid}", file=sys.stderr)
        if failed:
            code = max(code, EXIT_FINDINGS)
    return code


def _cmd_report(args) -> int:
    _check_run_dir(args.dir)
    try:
        errors = report.regenerate(args.dir, figures=not args.no_figures, modules=args.module,
                                   dpi=args.dpi)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise FileError(f"{args.dir} is not in the format of this depthcheck "
                        f"({type(exc).__name__}: {exc}): rerun the run with this version"
                        ) from None
    print(f"wrote {args.dir / report.REPORT_NAME}")
    for e in errors:
        print(e.splitlines()[0], file=sys.stderr)
    return 1 if errors else 0


def _cmd_bench(args) -> int:
    if args.json is not None:
        _check_json_path(args.json)
    rows = bench.run_benchmarks(args.modules or None, quick=args.quick,
                                log=lambda line: print(line, file=sys.stderr, flush=True))
    print(bench.format_rows(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line ``python -m depthcheck {list,run,report,bench}``; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every selected claim ran, every control failed and every statistical claim's
        data-side mutations failed (a FAIL verdict of a claim is a finding, not an error); 1
        when a claim is BROKEN (its control did not fail), UNDERPOWERED (a mutation did not
        fail, or none is declared) or errored, or a figure failed, and with ``--strict`` when a
        selected claim's verdict is FAIL; 2 for bad usage: an unknown claim id or module, a
        backend a claim does not support, an empty or out-of-range option value (the
        ``ValueError`` or ``RuntimeError`` is printed on stderr); 3 for a file-system or store
        error (an output path that is a file or not writable, a full disk, a run directory
        whose files are missing or not in depthcheck's format); 4 when the Dask scheduler
        cannot be used (:class:`~depthcheck.validation.run.executors.ExecutorError`); 130 when
        interrupted (rerun the same command to resume). Every error is one message on stderr,
        never a traceback.

    Raises
    ------
    SystemExit
        From :mod:`argparse`: status 2 for arguments it cannot parse, 0 after ``--help`` or
        ``--version``.

    See Also
    --------
    build_parser : the parser, with the help text of every subcommand.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     status = main(["list"])
    >>> status
    0
    >>> out.getvalue().split()[0]
    'bn_orthogonal.isometry_decay'
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     status = main(["list", "--module", "no_such_module"])
    >>> status
    2
    >>> "claim module 'no_such_module' not found" in err.getvalue()
    True
    """
    args = build_parser().parse_args(argv)
    cmd = {"list": _cmd_list, "run": _cmd_run, "report": _cmd_report, "bench": _cmd_bench}
    prog = f"python -m depthcheck {args.command}"
    resume = ("; the tasks finished so far are kept in the store: rerun the same command to "
              "resume" if args.command == "run" else "")
    try:
        return cmd[args.command](args)
    except FileError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FILES
    except OSError as exc:
        print(f"{prog}: error: {_describe_os_error(exc)}{resume}", file=sys.stderr)
        return EXIT_FILES
    except sqlite3.Error as exc:
        print(f"{prog}: error: the store ({STORE_NAME}) cannot be used: "
              f"{type(exc).__name__}: {exc}{resume}", file=sys.stderr)
        return EXIT_FILES
    except ExecutorError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_EXECUTOR
    except (StoreError, DirectoryLockedError) as exc:   # damaged store, directory in use
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FILES
    except (ValueError, RuntimeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.command == "run":
            print("\ninterrupted: finished tasks are stored; rerun the same command to resume",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
