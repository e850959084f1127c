"""Reports a researcher can publish and trace (issue 13, section 4): vector + 300-dpi figures,
one interval level, legends without phantom entries, verdicts.csv, every printed tag defined,
extra numbers as tables, provenance in the header, BibTeX references."""
from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sps

from depthcheck.validation.claims import plotting
from depthcheck.validation.run import report

ROOT = Path(__file__).resolve().parents[2]


def _rec(cid, verdict="PASS", status="OK", kind="statistical", control=False, **kw):
    r = {"id": cid, "title": f"title of {cid}", "module": "m", "source": "src",
         "control": control, "status": status, "verdict": verdict, "statistic": 0.5,
         "ci": [0.25, 0.75], "prediction": 1.0, "alpha": 1e-5, "trials": 30,
         "config": {"d": 4}, "detail": "detail.", "extra": {}, "kind": kind, "delta": 0.2,
         "mutations": [], "control_verdict": "FAIL"}
    r.update(kw)
    return r


def _records():
    return [
        _rec("bn_orthogonal.a", mutations=[{"name": "m1", "verdict": "FAIL", "description": "x.",
                                            "statistic": 2.0, "ci": [1.9, 2.1], "detail": ""}],
             extra={"widths": {"32": {"rate": {"ci": [0.1, 0.2], "rate": 0.15}}},
                    "curve": list(np.linspace(0, 1, 50)), "parts": [{"name": f"p{i}", "ci": [0, 1]}
                                                                   for i in range(9)],
                    "note": "a|b"}),
        _rec("bn_orthogonal.a", verdict="FAIL", control=True),
        _rec("rank_collapse.b", verdict="PASS", status="UNDERPOWERED",
             mutations=[{"name": "m2", "verdict": "PASS", "description": "y.", "statistic": 1.0,
                         "ci": [0.9, 1.1], "detail": ""}]),
        _rec("rank_collapse.b", verdict="FAIL", control=True),
        _rec("linear_nets.c", verdict="PASS", status="BROKEN", control_verdict="PASS"),
        _rec("linear_nets.c", verdict="PASS", control=True, status="BROKEN"),
        _rec("lcw.d", verdict="PASS", kind="exact", ci=[0.5, 0.5], delta=None),
        _rec("lcw.d", verdict="FAIL", control=True, kind="exact"),
        _rec("lcw.e", verdict="INCONCLUSIVE", kind="finding"),
        _rec("lcw.e", verdict="ERROR", status="ERROR", control=True),
        _rec("lcw.f", verdict="ERROR", status="ERROR", statistic=None, ci=[None, None],
             control_verdict="-"),
    ]


MANIFEST = {"mode": "quick", "seed": 0, "backend": "numpy", "alpha": 1e-5}


def _write(tmp_path, manifest=MANIFEST, records=None):
    records = _records() if records is None else records
    errors = report.write_report(tmp_path, records, manifest, {}, {}, figures=False)
    assert errors == []
    return (tmp_path / report.REPORT_NAME).read_text(), records


# ------------------------------------------------------------------------------ figures
def test_save_figure_writes_vector_pdf_and_300_dpi_png(tmp_path):
    from PIL import Image
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], label=r"$\nabla_{W_1}$")
    plotting.legend(ax)
    png = plotting.save_figure(fig, tmp_path, "paper.claim")
    pdf = plotting.vector_twin(png)
    assert png == tmp_path / "paper.claim.png" and pdf == tmp_path / "paper.claim.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    dpi = Image.open(png).info["dpi"]
    assert abs(dpi[0] - 300) < 0.5 and abs(dpi[1] - 300) < 0.5
    with pytest.raises(ValueError, match="stem"):
        plotting.save_figure(plt.figure(), tmp_path, "a/b")


def test_png_dpi_sets_the_raster_resolution_within_its_block_only(tmp_path):
    from PIL import Image
    plt = plotting.pyplot()

    def saved_dpi(stem, **kw):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, 1], [0, 1])
        png = plotting.save_figure(fig, tmp_path, stem, **kw)
        return Image.open(png).info["dpi"][0], Image.open(png).size

    with plotting.png_dpi(110):
        inside, size_in = saved_dpi("inside")
        explicit, _ = saved_dpi("explicit", dpi=200)     # an explicit dpi still wins
    outside, size_out = saved_dpi("outside")
    assert abs(inside - 110) < 0.5 and abs(explicit - 200) < 0.5 and abs(outside - 300) < 0.5
    assert size_in[0] < size_out[0] / 2                   # the pixels follow the resolution
    for bad in (71, 100.0, True, "110"):
        with pytest.raises(ValueError, match="dpi"):
            with plotting.png_dpi(bad):
                pass


def test_run_records_its_dpi_and_report_reuses_it(tmp_path):
    from PIL import Image
    from depthcheck.validation.run import runner
    out = tmp_path / "run"
    runner.run(["linear_nets.balance_invariant"], out=out, progress=False, dpi=96)
    png = out / "figures" / "linear_nets.balance_invariant.png"
    assert abs(Image.open(png).info["dpi"][0] - 96) < 0.5
    assert (out / "manifest.json").read_text().count('"figure_dpi": 96') == 1
    png.unlink()
    report.regenerate(out)                                # the run's resolution again
    assert abs(Image.open(png).info["dpi"][0] - 96) < 0.5
    report.regenerate(out, dpi=150)
    assert abs(Image.open(png).info["dpi"][0] - 150) < 0.5
    with pytest.raises(ValueError, match="dpi"):
        runner.run(["linear_nets.balance_invariant"], out=tmp_path / "bad", dpi=10)


def test_legend_entry_for_an_undrawn_curve_is_refused(tmp_path):
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], "k-")
    ax.plot([], [], "k-", label="proxy of the drawn black line")   # allowed: same style
    ax.plot([], [], "x", color="gray", label="control")            # nothing drawn like it
    plotting.legend(ax)
    with pytest.raises(ValueError, match="'control'.*not drawn"):
        plotting.save_figure(fig, tmp_path, "ghost")
    fig, ax = plt.subplots()
    ax.plot([np.nan, np.nan], [1, 2], label="all NaN")
    plotting.legend(ax)
    with pytest.raises(ValueError, match="all NaN"):
        plotting.save_figure(fig, tmp_path, "nan")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], "k-")
    ax.plot([], [], "k-", label="proxy")
    plotting.legend(ax)
    assert plotting.save_figure(fig, tmp_path, "proxy").is_file()


def test_many_legend_entries_go_outside_the_axes():
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    for i in range(plotting.MAX_INSIDE_ENTRIES + 1):
        ax.plot([0, 1], [i, i], label=f"c{i}")
    plotting.legend(ax)
    fig.canvas.draw()
    leg = ax.get_legend().get_window_extent()
    assert leg.x0 >= ax.get_window_extent().x1      # right of the axes: hides no data
    plt.close(fig)


def test_mean_band_is_the_t_interval_at_the_given_level():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(12, 5))
    m, h = plotting.mean_band(Y, 1e-5)
    want = sps.t.ppf(1 - 0.5e-5, 11) * Y.std(0, ddof=1) / np.sqrt(12)
    np.testing.assert_allclose(m, Y.mean(0))
    np.testing.assert_allclose(h, want, rtol=1e-10)
    assert plotting.level_label(1e-5) == "pointwise intervals at 1 − α = 1 − 1e-05"


def test_paper_figures_use_one_level_and_claim_id_names():
    for path in sorted((ROOT / "validation" / "papers").glob("*/figures.py")):
        src = path.read_text()
        assert "seed00" not in src, path                        # no seed file names
        assert "1.96" not in src and "95%" not in src, path    # no second interval level
        assert "save_figure(" in src and ".savefig(" not in src, path
        assert "level_label(" in src, path                     # the level is stated


# ------------------------------------------------------------------------------ report
def test_report_links_png_and_its_pdf(tmp_path):
    def fig_cb(cfg, res, ctrl, outdir):
        plt = plotting.pyplot()
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0], label="claim")
        plotting.legend(ax)
        return [plotting.save_figure(fig, outdir, res.id)]
    recs = _records()[:2]
    res = SimpleNamespace(id="bn_orthogonal.a", config={})
    errors = report.write_report(tmp_path, recs, MANIFEST, {"bn_orthogonal.a": (res, None)},
                                 {"bn_orthogonal.a": SimpleNamespace(
                                     figure=fig_cb, statement="s", assumptions="a",
                                     sensitivity=None, control_description="c")})
    assert errors == []
    md = (tmp_path / "report.md").read_text()
    assert "![bn_orthogonal.a](figures/bn_orthogonal.a.png)" in md
    assert "[PDF](figures/bn_orthogonal.a.pdf)" in md
    assert (tmp_path / "figures" / "bn_orthogonal.a.pdf").is_file()


def _tables(md):
    """(header, rows) of every Markdown table of ``md``."""
    out, cur = [], None
    for line in md.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cur is None:
                cur = (cells, [])
                out.append(cur)
            else:
                cur[1].append(cells)
        elif line.startswith("|---"):
            continue
        else:
            cur = None
    return out


def _defined(md):
    return set(re.findall(r"^- \*\*(.+?)\*\*:", md, flags=re.M))


def _printed_tags(header, row):
    """The tags a verdict-table row prints in its verdict, control and mutation cells."""
    tags = set()
    cols = dict(zip(header, row))
    for col in ("verdict", "control"):
        cell = cols.get(col)
        if cell is None:
            continue
        tags |= set(re.findall(r"\b[A-Z]{3,}\b", cell))
        # "(ok)", "(control did not fail)"; "(PASS)" is a verdict word, checked above
        tags |= {t for t in re.findall(r"\([^()]*\)", cell) if not re.fullmatch(r"\([A-Z]+\)", t)}
        if cell in ("-", "no control"):
            tags.add(cell)
    cell = cols.get("mutations")
    if cell is not None:
        if cell in ("none declared", "exact", "-"):
            tags.add(cell)
        else:
            for part in cell.split("; "):
                tags.add(part.rsplit(": ", 1)[1])
    for col in ("CI", "half-width", "delta", "prediction", "statistic"):
        if cols.get(col) == "-":
            tags.add("-")
    return tags


def test_every_printed_tag_and_column_is_defined_in_the_report(tmp_path):
    md, _ = _write(tmp_path)
    defined = _defined(md)
    verdict_tables = [t for t in _tables(md) if t[0][:2] == ["claim", "verdict"]]
    assert len(verdict_tables) == 3                       # exact, statistical, finding
    printed = set()
    for header, rows in verdict_tables:
        assert set(header) <= defined, set(header) - defined
        for row in rows:
            printed |= _printed_tags(header, row)
    # the toy records exercise every kind of cell
    assert {"(ok)", "none declared", "BROKEN", "UNDERPOWERED", "ERROR", "EXACT",
            "INCONCLUSIVE", "no control", "-"} <= printed
    assert printed <= defined, printed - defined


def test_confidence_tags_in_statements_are_defined(tmp_path):
    claim = SimpleNamespace(figure=None, statement="bound [S formula, U constant] and [P].",
                            assumptions="[D]", sensitivity=None, control_description="c")
    recs = _records()[:2]
    report.write_report(tmp_path, recs, MANIFEST, {}, {"bn_orthogonal.a": claim}, figures=False)
    md = (tmp_path / "report.md").read_text()
    used = {t for m in re.findall(r"\[([A-Z][^\]\[]*)\]", md)
            for t in re.findall(r"\b([A-Z]{1,3})\b", m) if t in report.CONFIDENCE_TAGS}
    assert used == {"S", "U", "P", "D"}
    assert {f"[{t}]" for t in used} <= _defined(md)
    assert "docs/derivations/README.md" in md
    assert (ROOT / "docs" / "derivations" / "README.md").is_file()


def test_extra_numbers_are_tables_not_python_dicts(tmp_path):
    md, _ = _write(tmp_path)
    assert "{'" not in md and "':" not in md
    rows = {r[0]: r[1] for h, rs in _tables(md) if h == ["key", "value"] for r in rs}
    assert rows["widths.32.rate.rate"] == "0.15"
    assert rows["widths.32.rate.ci"] == "[0.1, 0.2]"
    assert rows["curve"].endswith("(50 values)") and "…" in rows["curve"]
    assert rows["parts[0].name"] == "p0" and "parts[3].name" in rows
    assert "parts[4].name" not in rows and rows["parts[4…8]"].startswith("5 more")
    assert rows["note"] == "a\\|b"                          # a '|' cannot break the table


def test_verdicts_csv_has_one_row_per_claim(tmp_path):
    _, recs = _write(tmp_path)
    with (tmp_path / report.CSV_NAME).open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == report.CSV_COLUMNS
    for col in ("kind", "verdict", "status", "statistic", "ci_lo", "ci_hi", "half_width",
                "delta", "prediction", "trials", "control_verdict", "mutation_verdicts"):
        assert col in report.CSV_COLUMNS
    assert [r["claim"] for r in rows] == [r["id"] for r in recs if not r["control"]]
    a = rows[0]
    assert (a["kind"], a["verdict"], a["status"]) == ("statistical", "PASS", "OK")
    assert float(a["ci_lo"]) == 0.25 and float(a["ci_hi"]) == 0.75
    assert float(a["half_width"]) == 0.25 and float(a["delta"]) == 0.2
    assert a["control_verdict"] == "FAIL" and a["mutation_verdicts"] == "m1=FAIL"
    exact = next(r for r in rows if r["claim"] == "lcw.d")
    assert exact["kind"] == "exact" and exact["ci_lo"] == exact["half_width"] == ""
    err = next(r for r in rows if r["claim"] == "lcw.f")
    assert err["statistic"] == "" and err["verdict"] == "ERROR"
    assert "verdicts.csv" in (tmp_path / "report.md").read_text()


def test_provenance_is_rendered_and_absent_keys_are_omitted(tmp_path):
    prov = {"depthcheck_version": "9.9.9", "commit": "abc1234", "dirty": True,
            "date": "2025-01-02T03:04:05Z", "python": "3.12.1",
            "libraries": {"numpy": "2.1.0", "scipy": "1.14"}, "cpu": "Test CPU",
            "gpu": None, "backend": "numpy",
            "engines": {"bn_orthogonal.a": "chain/numpy"},
            "argv": ["python", "-m", "depthcheck", "run", "--quick", "--out", "a b"]}
    md, _ = _write(tmp_path, {**MANIFEST, "provenance": prov})
    head = md.split("## Verdicts")[0]
    for s in ("## Provenance", "9.9.9", "abc1234", "uncommitted", "2025-01-02T03:04:05Z",
              "3.12.1", "numpy 2.1.0", "scipy 1.14", "Test CPU", "bn_orthogonal.a: chain/numpy",
              "`python -m depthcheck run --quick --out 'a b'`"):
        assert s in head, s
    assert "GPU" not in head                              # None: omitted, not "None"
    md, _ = _write(tmp_path, {**MANIFEST, "provenance": {"commit": "abc1234"}})
    assert "abc1234" in md and "depthcheck**:" not in md.split("## Verdicts")[0]
    md, _ = _write(tmp_path, {**MANIFEST, "provenance": {
        "git": {"commit": "def5678", "dirty": False}, "cpu": {"model": "X", "count": 2}}})
    head = md.split("## Verdicts")[0]
    assert "**commit**: def5678" in head and "**working tree**: clean" in head
    assert "**CPU**: model X, count 2" in head
    md, _ = _write(tmp_path, dict(MANIFEST))              # no provenance: no section, no error
    assert "## Provenance" not in md


def test_references_cite_the_bibtex_keys(tmp_path):
    md, recs = _write(tmp_path)
    bib = (ROOT / "docs" / "references.bib").read_text()
    refs = md.split("## References", 1)[1]
    for prefix, key in (("bn_orthogonal", "meterez2024bn"), ("rank_collapse", "daneshmand2020rank"),
                        ("linear_nets", "basu2019layer"), ("lcw", "kutsuna2020lcw")):
        assert f"@inproceedings{{{key}," in bib or f"@misc{{{key}," in bib
        assert f"`{prefix}.*` — **{key}**" in refs
    assert "*Reference:* [meterez2024bn](#references)" in md
