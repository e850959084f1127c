"""The verdict table (terminal, Markdown and ``verdicts.csv``), ``report.md`` and the claims'
figures (vector PDF beside a 300-dpi PNG, :func:`depthcheck.validation.claims.plotting.save_figure`).

The report is self-contained: it renders the run's provenance when ``manifest.json`` records
one, defines every tag its tables print (:data:`TAGS`, :data:`CONFIDENCE_TAGS`), renders each
claim's extra numbers as a table, and ends with the references of the four papers by their
BibTeX keys in ``docs/references.bib`` (:data:`REFERENCES`).
"""
from __future__ import annotations

import csv
import json
import math
import re
import shlex
import traceback
from pathlib import Path

from depthcheck.validation.claims import stats
from depthcheck.validation.claims.plotting import PNG_DPI, png_dpi, pyplot, vector_twin
from depthcheck.validation.run import registry
from depthcheck.validation.run.lock import RunLock
from depthcheck.validation.run.results import load_run

__all__ = ["REPORT_NAME", "CSV_NAME", "FIGURE_DIR", "TAGS", "CONFIDENCE_TAGS", "REFERENCES",
           "CSV_COLUMNS", "format_table", "markdown_table", "verdict_rows", "write_csv",
           "extra_table", "provenance_lines", "write_report", "regenerate"]

REPORT_NAME = "report.md"
CSV_NAME = "verdicts.csv"
FIGURE_DIR = "figures"

#: Claim-id prefix -> (BibTeX key in docs/references.bib, full citation).
REFERENCES = {
    "bn_orthogonal": ("meterez2024bn",
                      "Meterez, A., Joudaki, A., Orabona, F., Immer, A., Rätsch, G. and "
                      "Daneshmand, H. (2024). Towards Training Without Depth Limits: Batch "
                      "Normalization Without Gradient Explosion. ICLR 2024. arXiv:2310.02012."),
    "rank_collapse": ("daneshmand2020rank",
                      "Daneshmand, H., Kohler, J., Bach, F., Hofmann, T. and Lucchi, A. (2020). "
                      "Batch Normalization Provably Avoids Rank Collapse for Randomly "
                      "Initialised Deep Networks. NeurIPS 33, 18387–18398. arXiv:2003.01652."),
    "linear_nets": ("basu2019layer",
                    "Basu, S., Mukherjee, K. and Vasudevan, S. (2019). Layer Dynamics of "
                    "Linearised Neural Nets. arXiv:1904.10689."),
    "lcw": ("kutsuna2020lcw",
            "Kutsuna, T. (2020). Linearly Constrained Weights: Reducing Activation Shift for "
            "Faster Training of Neural Networks. ECML PKDD 2019, LNCS 11907, 266–282. "
            "doi:10.1007/978-3-030-46147-8_16. arXiv:2403.13833."),
}

#: The confidence tags of formulas (docs/derivations/README.md, "Confidence tags"), printed
#: inside claim statements as e.g. "[P]" or "[S formula, U constant]".
CONFIDENCE_TAGS = {
    "P": "stated in the paper's text (or visible in the authors' public code)",
    "S": "the formula is quoted by secondary summaries or public reviews of the paper, and the "
         "paper's words agree with it",
    "STD": "a standard result of the cited literature, re-checked numerically",
    "D": "derived here, from the paper's proof sketch or from first principles, and checked "
         "numerically; the paper's printed constants are not confirmed",
    "U": "unconfirmed: only the structure is known; do not read it as the paper's formula",
}
_CONF_RE = re.compile(r"\[((?:%s)\b[^\]\[]*)\]" % "|".join(sorted(CONFIDENCE_TAGS, key=len,
                                                                     reverse=True)))


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
    if cv in ("ERROR", "-", None):
        return "ERROR" if cv == "ERROR" else "no control"
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
    "(ok)": "in the control column: the negative control FAILed, as it must",
    "(control did not fail)": "in the control column: the control's own verdict, printed "
                              "before BROKEN",
    "no control": "in the control column: the claim declares no negative control",
    "none declared": "in the mutations column: the claim declares no data-side mutation (its "
                     "PASS is then UNDERPOWERED unless it is exact)",
    "exact": "in the mutations column: an exact statement has no mutation and no interval",
    "-": "not applicable, or no number (no interval, no delta, no prediction)",
    "claim": "the claim id, <paper>.<statement>; the paper's BibTeX key is in References",
    "verdict": "the claim's verdict, one of the tags above; a status (BROKEN, UNDERPOWERED) "
               "is printed before the verdict it qualifies, in parentheses",
    "delta": "the smallest departure from the prediction the statement is meant to detect",
    "half-width": "half the width of the interval; the statement resolves delta when it is "
                  "below delta/2",
    "statistic": "the judged number (fitted slope, mean ratio, worst margin, ...)",
    "CI": "its two-sided confidence interval at level 1 - alpha (for a family of comparisons, "
          "the decisive one's interval)",
    "prediction": "the theory number or bound the statistic is compared with",
    "trials": "Monte Carlo trials (for exact statements: evaluated cases)",
    "control": "the verdict of the negative control, which runs the same code on a setting "
               "where the statement is false",
    "mutations": "name: verdict of each data-side mutation (the claim's own random numbers, "
                 "transformed by delta); each must FAIL",
    "worst error / margin": "exact statements: the worst error, or smallest margin, over the "
                            "evaluated cases",
    "bound": "exact statements: the tolerance or bound the worst case is held to",
    "cases": "exact statements: the number of evaluated cases",
    "engine": "the chain engine that produced the claim's evidence (numpy: the reference; "
              "numba: the fused CPU kernels; cuda: the GPU kernels); the default backend "
              "'auto' gives each claim the fastest engine it supports",
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


def _backend_note(backend: str) -> str:
    return (" (each claim on the fastest engine it supports; the tables' *engine* column says "
            "which produced its evidence)" if backend == "auto" else "")


def _engine(rec: dict) -> str:
    """The engine that produced the claim's evidence (records of earlier releases: unknown)."""
    return str(rec.get("engine") or "?")


def _rows(records, kind=None):
    pairs = [(c, k) for c, k in _pairs(records) if kind is None or _kind(c) == kind]
    if kind == "exact":
        header = ["claim", "verdict", "worst error / margin", "bound", "cases", "engine",
                  "control"]
        rows = [[c["id"], _verdict_cell(c), _num(c["statistic"]), _num(c["prediction"]),
                 str(c["trials"]), _engine(c), _control_cell(c)] for c, _ in pairs]
        return header, rows
    header = ["claim", "verdict", "statistic", "CI", "half-width", "delta", "prediction",
              "trials", "engine", "control", "mutations"]
    exact = lambda c: _kind(c) == "exact"       # no interval, no delta, no mutation
    rows = [[c["id"], _verdict_cell(c), _num(c["statistic"]),
             "-" if exact(c) else _ci(c["ci"]), "-" if exact(c) else _num(_half_width(c)),
             _num(c.get("delta")), _num(c["prediction"]), str(c["trials"]), _engine(c),
             _control_cell(c), "exact" if exact(c) else _mutation_cell(c)] for c, _ in pairs]
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


#: Columns of ``verdicts.csv``, one row per claim (numbers in full precision, empty when none).
CSV_COLUMNS = ["claim", "kind", "verdict", "status", "statistic", "ci_lo", "ci_hi",
               "half_width", "delta", "prediction", "alpha", "trials", "engine",
               "control_verdict", "mutation_verdicts"]


def _csv_num(x) -> str:
    if x is None:
        return ""
    x = float(x)
    return repr(x) if math.isfinite(x) else ("inf" if x > 0 else ("-inf" if x < 0 else "nan"))


def verdict_rows(records: list[dict]) -> list[dict]:
    """The rows of ``verdicts.csv``: one dict per claim (controls and mutations folded in),
    keyed by :data:`CSV_COLUMNS`."""
    rows = []
    for c, _ in _pairs(records):
        ci = c.get("ci") or [None, None]
        exact = _kind(c) == "exact"
        rows.append({
            "claim": c["id"], "kind": _kind(c), "verdict": c["verdict"], "status": c["status"],
            "statistic": _csv_num(c.get("statistic")),
            "ci_lo": "" if exact else _csv_num(ci[0]), "ci_hi": "" if exact else _csv_num(ci[1]),
            "half_width": "" if exact else _csv_num(_half_width(c)),
            "delta": _csv_num(c.get("delta")), "prediction": _csv_num(c.get("prediction")),
            "alpha": _csv_num(c.get("alpha")), "trials": str(c.get("trials", "")),
            "engine": str(c.get("engine") or ""),
            "control_verdict": str(c.get("control_verdict") or ""),
            "mutation_verdicts": ";".join(f"{m['name']}={m['verdict']}"
                                          for m in c.get("mutations") or []),
        })
    return rows


def write_csv(path, records: list[dict]) -> Path:
    """Write :func:`verdict_rows` of ``records`` to ``path`` (RFC 4180 CSV with a header)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(verdict_rows(records))
    tmp.replace(path)
    return path


#: Lists in the extra-numbers tables show this many leading (and two trailing) items.
LIST_HEAD = 4


def _extra_value(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float)):
        return _num(v) if isinstance(v, float) else str(v)
    if isinstance(v, (list, tuple)):
        if len(v) > LIST_HEAD + 2:
            shown = [_extra_value(x) for x in v[:LIST_HEAD]] + ["…"] + \
                    [_extra_value(x) for x in v[-2:]]
            return f"[{', '.join(shown)}] ({len(v)} values)"
        return f"[{', '.join(_extra_value(x) for x in v)}]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_extra_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def _flatten(obj, prefix: str = ""):
    """(key, value) pairs of a nested dict; lists of dicts are indexed (shortened)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)) and obj and all(isinstance(x, dict) for x in obj):
        for i, x in enumerate(obj[:LIST_HEAD]):
            yield from _flatten(x, f"{prefix}[{i}]")
        if len(obj) > LIST_HEAD:
            yield f"{prefix}[{LIST_HEAD}…{len(obj) - 1}]", \
                f"{len(obj) - LIST_HEAD} more entries (results.json)"
    else:
        yield prefix, obj


def extra_table(extra: dict) -> str:
    """A claim's extra numbers as a Markdown table ``key | value``: nested dicts flattened to
    dotted keys, lists shortened to their first and last items with their length."""
    esc = lambda x: str(x).replace("|", "\\|").replace("\n", " ")   # noqa: E731
    lines = ["| key | value |", "|---|---|"]
    for k, v in _flatten(extra):
        lines.append(f"| {esc(k)} | {esc(v if isinstance(v, str) else _extra_value(v))} |")
    return "\n".join(lines)


_PROVENANCE_LABELS = [
    ("depthcheck", ("depthcheck_version", "version", "depthcheck")),
    ("commit", ("commit", "git_commit")),
    ("working tree", ("dirty", "git_dirty", "tree")),
    ("date", ("date", "datetime", "timestamp", "started")),
    ("command line", ("command", "command_line", "argv", "cmdline")),
    ("Python", ("python", "python_version")),
    ("platform", ("platform", "os")),
    ("CPU", ("cpu", "processor")),
    ("GPU", ("gpu", "gpus")),
    ("backend", ("backend",)),
    ("libraries", ("libraries", "packages", "versions")),
    ("engine per claim", ("engines", "engine", "engine_per_claim")),
]


def _prov_value(key: str, v) -> str:
    if key in ("command", "command_line", "argv", "cmdline") and isinstance(v, (list, tuple)):
        return "`" + shlex.join(str(x) for x in v) + "`"
    if key in ("command", "command_line", "cmdline") and isinstance(v, str):
        return f"`{v}`"
    if key in ("dirty", "git_dirty") and isinstance(v, bool):
        return "modified (uncommitted changes)" if v else "clean"
    if isinstance(v, dict):
        absent = "not installed" if key in ("libraries", "packages", "versions") else "-"
        return ", ".join(f"{k} {absent if x is None else _prov_value('', x)}"
                         for k, x in v.items()) or "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(_prov_value("", x) for x in v) or "-"
    return str(v)


def provenance_lines(manifest: dict) -> list[str]:
    """Markdown lines describing ``manifest["provenance"]`` (what produced the run); keys that
    are absent are omitted, unknown keys are listed after the known ones, and a manifest
    without provenance gives no lines."""
    prov = manifest.get("provenance") if isinstance(manifest, dict) else None
    if not prov:
        return []
    if not isinstance(prov, dict):
        return ["## Provenance", "", f"- {prov}", ""]
    if isinstance(prov.get("git"), dict):   # {"commit": ..., "dirty": ...}: one line each
        prov = {**{k: v for k, v in prov.items() if k != "git"}, **prov["git"]}
    seen, lines = set(), []
    for label, keys in _PROVENANCE_LABELS:
        for k in keys:
            if k in prov and k not in seen and prov[k] not in (None, "", [], {}):
                seen.add(k)
                if label == "engine per claim" and isinstance(prov[k], dict):
                    lines.append(f"- **{label}**:")
                    lines += [f"  - {c}: {_prov_value('', e)}" for c, e in prov[k].items()]
                else:
                    lines.append(f"- **{label}**: {_prov_value(k, prov[k])}")
                break
    for k, v in prov.items():
        if k not in seen and all(k not in keys for _, keys in _PROVENANCE_LABELS) \
                and v not in (None, "", [], {}):
            lines.append(f"- **{k}**: {_prov_value(k, v)}")
    return ["## Provenance", ""] + lines + [""] if lines else []


def _reference(cid: str):
    return REFERENCES.get(cid.split(".", 1)[0])


def _figure_links(cid: str, rel: list[str]) -> list[str]:
    """Markdown for a claim's figures: each PNG shown, with a link to its vector twin when
    there is one; other files (a PDF returned by itself) linked."""
    out, done = [], set()
    for f in rel:
        if f in done:
            continue
        done.add(f)
        if f.endswith(".png"):
            pdf = f[:-4] + ".pdf"
            extra = f" ([PDF]({pdf}), [PNG]({f}))" if pdf in rel or pdf in done else ""
            done.add(pdf)
            out.append(f"![{cid}]({f}){extra}")
        elif f.endswith(".pdf") and f[:-4] + ".png" in rel:
            continue
        else:
            out.append(f"[{cid}: {Path(f).name}]({f})")
    return out


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
                twin = vector_twin(p)
                if p.suffix == ".png" and twin.is_file():
                    rel.append(twin.relative_to(out.resolve()).as_posix())
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
        s += ["<details><summary>extra numbers</summary>", "", extra_table(rec["extra"]), "",
              "</details>", ""]
    s += [f"Configuration: `{_compact(rec['config'])}`", ""]
    ref = _reference(rec["id"])
    if ref is not None:
        s += [f"*Reference:* [{ref[0]}](#references)", ""]
    s += _figure_links(rec["id"], figs)
    return "\n".join(s) + "\n"


def _compact(cfg) -> str:
    return json.dumps(cfg, sort_keys=True, separators=(", ", ": "))


def write_report(out: str | Path, records: list[dict], manifest: dict, results: dict,
                 claims: dict, figures: bool = True, dpi: int | None = None) -> list[str]:
    """Draw every claim's figures into ``out/figures`` and write ``out/report.md`` and
    ``out/verdicts.csv``. ``dpi``: resolution of the PNG figures (default
    ``manifest["figure_dpi"]``, else 300).

    Returns the errors of figure callbacks (also listed in the report); they do not stop the
    report.
    """
    out = Path(out)
    if dpi is None:
        dpi = manifest.get("figure_dpi") or PNG_DPI
    if figures:
        with png_dpi(int(dpi)):
            links, errors = _draw_figures(out, results, claims)
    else:
        links, errors = {}, []
    write_csv(out / CSV_NAME, records)
    md = ["# depthcheck validation report", ""] + provenance_lines(manifest) + [
          f"Mode **{manifest['mode']}**, seed {manifest['seed']}, backend {manifest['backend']}"
          f"{_backend_note(manifest['backend'])}, "
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
    md += [f"The same table, one row per claim, is in [{CSV_NAME}]({CSV_NAME}).", ""]
    md += ["### Tags", "", "Every tag and column the tables print:", ""]
    md += [f"- **{k}**: {v}." for k, v in TAGS.items()] + [""]
    claims_md = [_section(claims.get(rec["id"]), rec, ctrl, links.get(rec["id"], []))
                 for rec, ctrl in _pairs(records)]
    conf = sorted({t for sec in claims_md for m in _CONF_RE.findall(sec)
                   for t in re.findall(r"\b(%s)\b" % "|".join(CONFIDENCE_TAGS), m)})
    if conf:
        md += ["### Confidence tags", "",
               "Statements mark how well a formula's printed form is established, e.g. "
               "\"[S formula, U constant]\" (docs/derivations/README.md, \"Confidence tags\"):",
               ""] + [f"- **[{t}]**: {CONFIDENCE_TAGS[t]}." for t in conf] + [""]
    md += ["### Figures", "",
           "Each figure is a 300-dpi PNG with a vector PDF of the same name beside it; its "
           "intervals are pointwise, at the run's level 1 − α (stated on the figure).", ""]
    if errors:
        md += ["## Figure errors", ""] + [f"```\n{e}\n```" for e in errors] + [""]
    md += ["## Claims", ""] + claims_md
    md += _not_checkable_section(manifest, {c["id"].split(".")[0] for c, _ in _pairs(records)})
    md += ["## References", "",
           "Claims are cited by the BibTeX keys of docs/references.bib (claim id prefix → key):",
           ""]
    md += [f"- `{prefix}.*` — **{key}**: {cite}" for prefix, (key, cite) in REFERENCES.items()]
    (out / REPORT_NAME).write_text("\n".join(md) + "\n")
    return errors


def _not_checkable_section(manifest: dict, groups: set) -> list[str]:
    """The papers' statements that the run's claim modules list as not checkable here
    (``NOT_CHECKABLE``), for the papers (claim-id groups) this run covers."""
    try:
        items = registry.not_checkable(manifest.get("modules") or ())
    except (ValueError, ImportError) as exc:   # a module of the run is gone: say so
        return ["## Not checkable here", "", f"(could not be listed: {exc})", ""]
    items = [i for i in items if i.id.split(".")[0] in groups]
    if not items:
        return []
    md = ["## Not checkable here", "",
          "Statements of the papers this suite does not check, why, and which claims check the "
          "closest analogue instead:", ""]
    for i in items:
        instead = f" Instead: {', '.join(f'`{c}`' for c in i.instead)}." if i.instead else ""
        md.append(f"- **{i.item}** ({i.source}): {i.why}.{instead}".replace("..", "."))
    return md + [""]


def regenerate(out: str | Path, figures: bool = True, modules=(), dpi: int | None = None
               ) -> list[str]:
    """Rewrite ``report.md`` and the figures of a finished run from its store and results;
    ``modules``: claim modules to search besides the recorded and registered ones; ``dpi``:
    PNG resolution (default: the run's, recorded in its manifest)."""
    records, manifest, results, claims = load_run(out, modules)  # a run's dir, not in use
    with RunLock(out):   # no run may start writing into it while the report is rewritten
        return write_report(out, records, manifest, results, claims, figures=figures, dpi=dpi)
