"""The committed reference report of ``run --full`` (results/reference-full, README) belongs to
the current claims: every registered claim has its records there, at the configuration, trials
and engine the documented command would use today, with status OK; the report's figures exist;
the per-trial store is not in git."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from depthcheck.validation.run import registry, runner

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "results" / "reference-full"

pytestmark = pytest.mark.skipif(not (REF / "results.json").is_file(),
                                reason="no reference report in this checkout")


def _records():
    recs = json.loads((REF / "results.json").read_text(encoding="utf-8"))
    return {(r["id"], r["control"]): r for r in recs}


def _json(x):
    return json.loads(json.dumps(x))


def test_every_claim_is_in_the_reference_at_todays_full_configuration():
    recs = _records()
    claims = registry.select(None, [])
    assert {cid for cid, _ in recs} == {c.id for c in claims}
    for c in claims:
        claim, control = recs[(c.id, False)], recs[(c.id, True)]
        # a changed full configuration makes the committed report stale: regenerate it
        assert claim["config"] == _json(c.config("full")), c.id
        assert control["config"] == _json(c.config("full", control=True)), c.id
        assert claim["trials"] == c.n_trials("full"), c.id
        assert claim["engine"] == runner.engine_for(c, runner.AUTO), c.id
        assert claim["status"] == "OK", (c.id, claim["status"])


def test_manifest_is_the_documented_full_run():
    m = json.loads((REF / "manifest.json").read_text(encoding="utf-8"))
    assert m["mode"] == "full" and m["seed"] == 0 and m["backend"] == runner.AUTO
    assert m["figure_dpi"] == 110
    prov = m["provenance"]
    assert prov["git"]["dirty"] is False and re.fullmatch(r"[0-9a-f]{40}", prov["git"]["commit"])
    assert "--full" in prov["argv"] and "results/reference-full" in prov["argv"]


def test_report_figures_exist():
    text = (REF / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"\((figures/[^)]+\.(?:png|pdf))\)", text)
    assert len(links) >= 2 * len(registry.select(None, []))   # a PNG and its PDF per figure
    assert all((REF / f).is_file() for f in links)


def test_per_trial_store_is_not_committed():
    try:
        out = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert out and not [f for f in out if "store.sqlite" in f or f.endswith(".lock")]
    assert all(f.startswith("results/reference-full/") for f in out)
