"""The verdict table (terminal and Markdown), ``report.md`` and the claims' figures."""
from __future__ import annotations

import json
import math
import traceback
from pathlib import Path

from depthcheck.validation.claims import stats
from depthcheck.validation.claims.plotting import pyplot
from depthcheck.validation.run.results import load_run

__all__ = ["REPORT_NAME", "FIGURE_DIR", "TAGS", "format_table", "markdown_table",
           "write_report", "regenerate"]

REPORT_NAME = "report.md"
FIGURE_DIR = "figures"


def _num(x) -> str:
    if x is None:
        return "-"
    x = float(x)
    return f"{x:.4g}" if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _ci(ci) -> str:
    if ci is None or ci[0] is None:
        return "-"
    return f"[{_num(ci[0])}, {_num(ci[1])}]"


def _control_cell(rec: dict) -> str:
    cv = rec.get("control_verdict", "-")
    if rec["status"] == "BROKEN":
        return f"{cv}: BROKEN (control did not fail)"
    if cv == "ERROR":
        return "ERROR"
    return f"{cv} (ok)"


#: Every tag the tables print, defined once (the report repeats these definitions).
TAGS = {
    "PASS": "the interval lies on the side of the prediction the statement asserts (inside its "
            "band, or below/above its bound)",
    "FAIL": "the interval lies entirely on the wrong side: the statement is contradicted at "
            "level 1 - alpha",
    "INCONCLUSIVE": "the interval straddles the prediction's band or bound: not resolved at "
                    "this power (never read as 'no difference')",
    "EXACT": "an exact statement held for every evaluated case to within rounding",
    "VIOLATED": "an exact statement failed for at least one evaluated case",
    "BROKEN": "the negative control did not FAIL, so a FAIL of this check would not be "
              "distinguishable from its PASS",
    "UNDERPOWERED": "a data-side mutation of the stated size delta (or no mutation at all) did "
                    "not FAIL: the PASS has not been shown to mean anything",
    "ERROR": "the check did not run to a verdict (see errors.log)",
    "delta": "the smallest departure from the prediction the statement is meant to detect",
    "half-width": "half the width of the interval; the statement resolves delta when it is "
                  "below delta/2",
}

_KIND_TITLES = {"exact": "Exact statements", "statistical": "Statistical statements",
                "finding": "Findings of this library"}
_KIND_INTRO = {
    "exact": "Deterministic identities and inequalities evaluated to rounding: no trials, no "
             "interval, outside the Monte Carlo error budget. The statistic is the worst error "
             "or margin over the evaluated cases.",
    "statistical": "Monte Carlo statements judged by an interval at level 1 - alpha. Each "
                   "shows the departure delta it is meant to detect, its half-width, its "
                   "negative control and its data-side mutations (which must FAIL).",
    "finding": "Statements of this library beyond or against the papers, judged like "
               "statistical statements; read each within its stated conditions.",
}


def _kind(rec: dict) -> str:
    return rec.get("kind", "statistical")


def _verdict_cell(rec: dict) -> str:
    v = rec["verdict"]
    if _kind(rec) == "exact" and v in ("PASS", "FAIL"):
        v = "EXACT" if v == "PASS" else "VIOLATED"
    if rec["status"] in ("BROKEN", "UNDERPOWERED"):
        return f"{rec['status']} ({v})"
    return v


def _mutation_cell(rec: dict) -> str:
    muts = rec.get("mutations") or []
    if not muts:
        return "none declared"
    return "; ".join(f"{m['name']}: {m['verdict']}" for m in muts)


def _half_width(rec: dict):
    ci = rec.get("ci")
    if ci is None or ci[0] is None:
        return None
    return 0.5 * (float(ci[1]) - float(ci[0]))


def _pairs(records: list[dict]) -> list[tuple[dict, dict | None]]:
    controls = {r["id"]: r for r in records if r["control"]}
    return [(r, controls.get(r["id"])) for r in records if not r["control"]]


def _rows(records, kind=None):
    pairs = [(c, k) for c, k in _pairs(records) if kind is None or _kind(c) == kind]
    if kind == "exact":
        header = ["claim", "verdict", "worst error / margin", "bound", "cases", "control"]
        rows = [[c["id"], _verdict_cell(c), _num(c["statistic"]), _num(c["prediction"]),
                 str(c["trials"]), _control_cell(c)] for c, _ in pairs]
        return header, rows
    header = ["claim", "verdict", "statistic", "CI", "half-width", "delta", "prediction",
              "trials", "control", "mutations"]
    exact = lambda c: _kind(c) == "exact"       # no interval, no delta, no mutation
    rows = [[c["id"], _verdict_cell(c), _num(c["statistic"]),
             "-" if exact(c) else _ci(c["ci"]), "-" if exact(c) else _num(_half_width(c)),
             _num(c.get("delta")), _num(c["prediction"]), str(c["trials"]), _control_cell(c),
             "exact" if exact(c) else _mutation_cell(c)] for c, _ in pairs]
    return header, rows


def format_table(records: list[dict]) -> str:
    """Plain-text verdict table, one row per claim, with its control and mutations."""
    header, rows = _rows(records)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(header), line("-" * w for w in widths)] + [line(r) for r in rows]
    n = {s: sum(1 for c, _ in _pairs(records) if _verdict_cell(c).split()[0] == s)
         for s in ("PASS", "FAIL", "INCONCLUSIVE", "EXACT", "VIOLATED", "BROKEN",
                   "UNDERPOWERED", "ERROR")}
    out.append("  ".join(f"{k} {v}" for k, v in n.items()))
    return "\n".join(out)


def markdown_table(records: list[dict], kind: str | None = None) -> str:
    """Markdown verdict table, all claims or those of one ``kind``."""
    header, rows = _rows(records, kind)
    esc = lambda s: str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _draw_figures(out: Path, results: dict, claims: dict) -> tuple[dict, list[str]]:
    plt = pyplot()
    figdir = out / FIGURE_DIR
    links, errors = {}, []
    for cid, claim in claims.items():
        res, ctrl = results.get(cid, (None, None))
        if claim.figure is None or res is None:
            continue
        figdir.mkdir(parents=True, exist_ok=True)
        try:
            paths = claim.figure(res.config, res, ctrl, figdir) or []
            rel = []
            for p in paths:
                p = Path(p).resolve()
                if not p.is_file():
                    raise ValueError(f"figure callback returned {p}, which is not a file")
                rel.append(p.relative_to(out.resolve()).as_posix())
            links[cid] = rel
        except Exception as exc:
            errors.append(f"figure of {cid}: {type(exc).__name__}: {exc}\n"
                          f"{traceback.format_exc()}")
        finally:
            plt.close("all")
    return links, errors


def _section(claim, rec: dict, ctrl: dict | None, figs: list[str]) -> str:
    s = [f"### {rec['id']}: {rec['title']}", "",
         f"*Source:* {rec['source']}  ", f"*Statement:* {claim.statement if claim else '-'}  ",
         f"*Assumptions:* {claim.assumptions if claim else '-'}", "",
         f"**Claim: {_verdict_cell(rec)}** (statistic {_num(rec['statistic'])}, CI {_ci(rec['ci'])},"
         f" prediction {_num(rec['prediction'])}, {rec['trials']} trials, alpha {rec['alpha']:g})."
         f" {rec['detail']}", ""]
    if _kind(rec) != "exact":
        sens = claim.sensitivity if claim else None
        if sens is not None:
            hw = _half_width(rec)
            delta = rec.get("delta")
            resolved = (hw is not None and delta is not None and hw <= delta / 2)
            s += [f"*Sensitivity:* delta = {_num(delta)} ({sens.measure}); {sens.why} "
                  f"Half-width {_num(hw)}: "
                  f"{'resolves' if resolved else 'does not resolve'} delta/2.", ""]
        else:
            s += ["*Sensitivity:* none declared.", ""]
        for m in rec.get("mutations") or []:
            s += [f"**Mutation {m['name']} ({m['verdict']}{'' if m['verdict'] == 'FAIL' else ', UNDERPOWERED: it should FAIL'})**: {m['description']} "
                  f"Statistic {_num(m['statistic'])}, CI {_ci(m['ci'])}. {m['detail']}", ""]
        if rec.get("planned"):
            pl = rec["planned"]
            s += [f"*Planned trials:* pilot {pl['pilot_trials']} trials, half-width "
                  f"{_num(pl['pilot_half_width'])} against delta/2 = {_num(pl['target_half_width'])}; "
                  f"planned {pl['planned_trials']}" + (
                      f" — the budget of {pl['budget']} stopped it (needed "
                      f"{pl['needed_trials']})." if pl["reached_budget"] else "."), ""]
        if rec.get("underpowered"):
            s += [f"*Underpowered:* {rec['underpowered']}.", ""]
    if ctrl is not None:
        desc = claim.control_description if claim else ""
        s += [f"**Negative control ({ctrl['verdict']}{', BROKEN: it should FAIL' if ctrl['status'] == 'BROKEN' else ''})**: {desc} "
              f"Statistic {_num(ctrl['statistic'])}, CI {_ci(ctrl['ci'])}, prediction "
              f"{_num(ctrl['prediction'])}, {ctrl['trials']} trials. {ctrl['detail']}", ""]
    if rec["extra"]:
        s += ["<details><summary>extra numbers</summary>", "", "```",
              "\n".join(f"{k}: {v}" for k, v in rec["extra"].items()), "```", "</details>", ""]
    s += [f"Configuration: `{_compact(rec['config'])}`", ""]
    s += [f"![{rec['id']}]({f})" for f in figs]
    return "\n".join(s) + "\n"


def _compact(cfg) -> str:
    return json.dumps(cfg, sort_keys=True, separators=(", ", ": "))


def write_report(out: str | Path, records: list[dict], manifest: dict, results: dict,
                 claims: dict, figures: bool = True) -> list[str]:
    """Draw every claim's figures into ``out/figures`` and write ``out/report.md``.

    Returns the errors of figure callbacks (also listed in the report); they do not stop the
    report.
    """
    out = Path(out)
    links, errors = _draw_figures(out, results, claims) if figures else ({}, [])
    md = ["# depthcheck validation report", "",
          f"Mode **{manifest['mode']}**, seed {manifest['seed']}, backend {manifest['backend']}, "
          f"per-statement error rate alpha = {manifest['alpha']:g} (two-sided intervals; "
          f"Bonferroni over {stats.CLAIM_BUDGET} judged statements keeps a false FAIL of the "
          f"whole suite below {stats.SUITE_FALSE_FAIL:g}). Every claim ships a negative control "
          f"that runs through the same code and must FAIL; a claim whose control does not FAIL "
          f"is BROKEN.", ""]
    n_stat = stats.statements_judged(records)
    md += [f"This run judged {n_stat} statements (budget {stats.CLAIM_BUDGET})." +
           (" **Over budget: the suite's false-FAIL guarantee does not hold; lower alpha or "
            "judge fewer statements.**" if n_stat > stats.CLAIM_BUDGET else ""), ""]
    md += ["## Verdicts", ""]
    for kind in ("exact", "statistical", "finding"):
        if any(_kind(c) == kind for c, _ in _pairs(records)):
            md += [f"### {_KIND_TITLES[kind]}", "", _KIND_INTRO[kind], "",
                   markdown_table(records, kind), ""]
    md += ["### Tags", ""] + [f"- **{k}**: {v}." for k, v in TAGS.items()] + [""]
    if errors:
        md += ["## Figure errors", ""] + [f"```\n{e}\n```" for e in errors] + [""]
    md += ["## Claims", ""]
    for rec, ctrl in _pairs(records):
        md.append(_section(claims.get(rec["id"]), rec, ctrl, links.get(rec["id"], [])))
    (out / REPORT_NAME).write_text("\n".join(md))
    return errors


def regenerate(out: str | Path, figures: bool = True, modules=()) -> list[str]:
    """Rewrite ``report.md`` and the figures of a finished run from its store and results;
    ``modules``: claim modules to search besides the recorded and registered ones."""
    records, manifest, results, claims = load_run(out, modules)
    return write_report(out, records, manifest, results, claims, figures=figures)
