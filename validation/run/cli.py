"""Command line: ``python -m depthcheck {list,run,report,bench}`` (``--help`` on each)."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from depthcheck import __version__
from depthcheck.validation import bench
from depthcheck.validation.claims import stats
from depthcheck.validation.run import registry, report, runner

__all__ = ["main", "build_parser"]

_DESCRIPTION = textwrap.dedent(f"""\
    Check theorems about deep random networks against simulation.

    Each claim compares a theory prediction with Monte Carlo evidence and is judged PASS, FAIL or
    INCONCLUSIVE from a confidence interval at level 1 - alpha, alpha = {stats.ALPHA:g} per judged
    statement (Bonferroni: a quick run of the whole suite reports a false FAIL with probability
    below {stats.SUITE_FALSE_FAIL:g}). Every claim also runs a negative control through the same
    code, which must FAIL; a claim whose control does not FAIL is BROKEN.""")

_EPILOG = textwrap.dedent("""\
    exit status:
      0  every selected claim ran, every control failed and every statistical claim's
         data-side mutations failed (FAIL verdicts of claims are findings, not crashes)
      1  some claim is BROKEN (its control did not fail), UNDERPOWERED (a mutation did not
         fail, or none is declared) or errored, or a figure failed
      2  bad usage: unknown claim id, unknown module, bad option
      130 interrupted (Ctrl-C); rerun the same command to resume

    examples:
      python -m depthcheck list
      python -m depthcheck run --quick               # the whole suite, quick settings
      python -m depthcheck run bn_orthogonal --full --workers 2
      python -m depthcheck run bn_orthogonal.bounded_gradients --backend numba
      python -m depthcheck run --module mypkg.claims mypkg
      python -m depthcheck run --scheduler tcp://127.0.0.1:8786
      python -m depthcheck report results/quick-seed0
      python -m depthcheck bench --quick --json bench.json""")


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
    q.add_argument("--module", action="append", default=[], metavar="MOD", help=mod_help)

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
    r.add_argument("claims", nargs="*", metavar="CLAIM_OR_PREFIX",
                   help="claim ids (exactly that claim), group prefixes ending at a dot "
                        "(e.g. 'bn_orthogonal') or globs ('bn_orthogonal.bounded_*'); former ids "
                        "(e.g. 'seed001.isometry_decay', 'seed001') are accepted; default: all")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="quick configurations (default): the whole suite in minutes on 2 cores")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="full configurations: the papers' figure settings (hours)")
    r.set_defaults(mode="quick")
    r.add_argument("--seed", type=int, default=0, metavar="S",
                   help="master seed (non-negative int, default 0); every task's stream is "
                        "derived from (S, claim id, claim/control, chunk)")
    r.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default results/{mode}-seed{S}); reuse it to resume")
    r.add_argument("--backend", choices=[*runner.BACKENDS, *runner.BACKEND_ALIASES],
                   default="numpy",
                   help="engine passed to the simulations (default numpy, the reference; cupy "
                        "is an alias of cuda). A selected claim that does not support it is "
                        "refused by name (exit status 2)")
    x = r.add_mutually_exclusive_group()
    x.add_argument("--workers", type=int, default=1, metavar="N",
                   help="run tasks on a local pool of N processes (default 1: in this process)")
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run tasks on an existing Dask cluster, e.g. tcp://host:8786 (needs "
                        "dask.distributed; workers must be able to import depthcheck)")
    r.add_argument("--module", action="append", default=[], metavar="MOD", help=mod_help)
    r.add_argument("--until-decided", action="store_true",
                   help="claims that declare a sequential statement are judged by an "
                        "anytime-valid confidence sequence and, while INCONCLUSIVE, get more "
                        "rounds of chunks (the error rate holds whenever the run stops; a "
                        "rerun resumes the sequence)")
    r.add_argument("--plan-trials", action="store_true",
                   help="statistical claims whose interval is wider than delta/2 after their "
                        "planned trials (the pilot) get the trials a two-stage plan predicts, "
                        "up to --max-trials; the report says when the budget stopped it")
    r.add_argument("--max-trials", type=int, default=None, metavar="N",
                   help="with --until-decided or --plan-trials: at most N trials per claim "
                        "(default 16 times the claim's planned trials)")
    r.add_argument("--fresh", action="store_true",
                   help="recompute every selected task even if DIR/store.sqlite holds it (stored "
                        "evidence is otherwise reused only when the claim's parameters and the "
                        "code fingerprint are unchanged)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.add_argument("--no-figures", action="store_true", help="skip drawing the figures")

    rp = sub.add_parser("report", help="regenerate DIR/report.md and figures from a finished run",
                        description="Rewrite DIR/report.md and DIR/figures from DIR/results.json "
                                    "and the evidence in DIR/store.sqlite (no simulation).")
    rp.add_argument("dir", type=Path, metavar="DIR", help="output directory of a run")
    rp.add_argument("--no-figures", action="store_true", help="skip drawing the figures")
    rp.add_argument("--module", action="append", default=[], metavar="MOD", help=mod_help)

    b = sub.add_parser("bench", help="time the kernels against baselines",
                       description="Run the benchmark modules (default: "
                                   "depthcheck.validation.bench.BENCH_MODULES), print a table and optionally "
                                   "write the rows as a JSON list. Columns: workload, ours_s, "
                                   "baseline, baseline_s, ratio (= baseline_s / ours_s), gflops, "
                                   "floor_s (a lower bound on the time).")
    b.add_argument("modules", nargs="*", metavar="MODULE",
                   help="benchmark modules to run instead of the default list")
    b.add_argument("--quick", action="store_true", help="small sizes (seconds, for CI)")
    b.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the rows as a JSON list to FILE")
    return p


def _cmd_list(args) -> int:
    claims = registry.all_claims(args.module)
    if not claims:
        print("no claims registered (depthcheck.validation.run.registry.CLAIM_MODULES is empty)")
        return 0
    w = max(len(c.id) for c in claims)
    for c in claims:
        print(f"{c.id.ljust(w)}  {c.title}  [{c.source}]")
    return 0


def _cmd_run(args) -> int:
    res = runner.run(args.claims, mode=args.mode, seed=args.seed, out=args.out,
                     backend=args.backend, workers=args.workers, scheduler=args.scheduler,
                     modules=args.module, progress=not args.no_progress,
                     figures=not args.no_figures, until_decided=args.until_decided,
                     max_trials=args.max_trials, fresh=args.fresh,
                     plan_trials=args.plan_trials)
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
    return res.exit_code


def _cmd_report(args) -> int:
    errors = report.regenerate(args.dir, figures=not args.no_figures, modules=args.module)
    print(f"wrote {args.dir / report.REPORT_NAME}")
    for e in errors:
        print(e.splitlines()[0], file=sys.stderr)
    return 1 if errors else 0


def _cmd_bench(args) -> int:
    rows = bench.run_benchmarks(args.modules or None, quick=args.quick)
    print(bench.format_rows(rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
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
        fail, or none is declared) or errored, or a figure failed; 2 for bad usage: an unknown
        claim id or module, a backend a claim does not support (the ``ValueError`` or
        ``RuntimeError`` is printed on stderr); 130 when interrupted (rerun the same command to
        resume).

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
    try:
        return cmd[args.command](args)
    except (ValueError, RuntimeError) as exc:
        print(f"python -m depthcheck {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "run":
            print("\ninterrupted: finished tasks are stored; rerun the same command to resume",
                  file=sys.stderr)
        return 130
