"""Verdicts with power: kinds of statement, sensitivity, data-side mutations (UNDERPOWERED)."""
import json

import pytest

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.claims.stats import statements_judged
from depthcheck.validation.run import runner

MODS = ["tests.validation.toypower"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("power")
    res = runner.run(["power.*"], out=out, modules=MODS, progress=False, figures=False)
    return res, {r["id"]: r for r in res.records if not r["control"]}, out


def test_powered_claim_is_ok_and_both_mutations_fail(run):
    res, by, _ = run
    rec = by["power.powered"]
    assert rec["status"] == "OK" and rec["verdict"] == "PASS" and rec["delta"] == 0.3
    assert [(m["name"], m["verdict"]) for m in rec["mutations"]] == [
        ("off_by_delta", "FAIL"), ("simulated_off", "FAIL")]


def test_missing_or_weak_mutations_make_the_claim_underpowered(run):
    res, by, _ = run
    assert by["power.none"]["status"] == "UNDERPOWERED"
    assert "no data-side mutation" in by["power.none"]["underpowered"]
    assert by["power.too_small"]["status"] == "UNDERPOWERED"
    assert by["power.too_small"]["mutations"][0]["verdict"] == "PASS"
    assert res.exit_code == 1


def test_a_prediction_side_override_cannot_fake_power(run):
    _, by, _ = run
    rec = by["power.prediction_side"]
    assert rec["mutations"][0]["verdict"] == "PASS" and rec["status"] == "UNDERPOWERED"


def test_mutations_run_on_the_claims_random_numbers(run):
    _, by, _ = run
    rec = by["power.noop"]
    assert rec["mutations"][0]["statistic"] == rec["statistic"]
    assert rec["mutations"][0]["ci"] == rec["ci"]


def test_statistical_claim_with_seed_independent_evidence_is_refused(run):
    _, by, _ = run
    rec = by["power.misdeclared"]
    assert rec["status"] == "ERROR" and "mis-declared" in rec["detail"]


def test_exact_claim_is_outside_the_budget_and_shown_as_exact(run):
    res, by, out = run
    rec = by["power.exact"]
    assert rec["kind"] == "exact" and rec["status"] == "OK" and rec["verdict"] == "PASS"
    assert statements_judged([rec]) == 0 and statements_judged([by["power.powered"]]) == 1
    md = (out / "report.md").read_text()
    assert "### Exact statements" in md and "### Statistical statements" in md
    assert "| power.exact | EXACT |" in md
    assert "UNDERPOWERED (PASS)" in md and "**UNDERPOWERED**:" in md  # the tag is defined


def test_claim_validation_of_the_new_fields():
    base = dict(id="x.y", title="t", source="s", statement="s", assumptions="a",
                quick={"mu": 0.0}, trials=4, predict=lambda c: 0.0,
                simulate=lambda c, r, n, b: {}, judge=lambda *a: None,
                control={"mu": 1.0}, control_description="c")
    with pytest.raises(ValueError, match="kind"):
        Claim(**base, kind="maybe")
    with pytest.raises(ValueError, match="exact statement has no sensitivity"):
        Claim(**base, kind="exact", sensitivity=Sensitivity(1.0, "m", "w"))
    with pytest.raises(ValueError, match="unique"):
        Claim(**base, mutations=(Mutation("a", "d", transform=abs),
                                 Mutation("a", "d", transform=abs)))
    with pytest.raises(ValueError, match="overrides.*or a transform"):
        Mutation("a", "d")
    with pytest.raises(ValueError, match="delta"):
        Sensitivity(0.0, "m", "w")
    assert Sensitivity({"quick": 0.2, "full": 0.1}, "m", "w").at("full") == 0.1
    c = Claim(**base, mutations=(Mutation("a", "d", overrides={"mu": 5.0}),))
    assert c.config("quick", mutation="a") == {"mu": 5.0}
    with pytest.raises(ValueError, match="no mutation"):
        c.config("quick", mutation="b")


def test_until_decided_adds_chunks_until_the_sequence_decides_and_resumes(tmp_path):
    kw = dict(out=tmp_path / "seq", modules=MODS, progress=False, figures=False)
    fixed = runner.run(["seq.diff"], **{**kw, "out": tmp_path / "fixed"})
    assert fixed.records[0]["verdict"] == "INCONCLUSIVE"          # 40 trials cannot resolve it
    small = runner.run(["seq.diff"], until_decided=True, max_trials=60, **kw)
    rec = small.records[0]
    assert rec["verdict"] == "INCONCLUSIVE" and "budget of 60 trials" in rec["detail"]
    big = runner.run(["seq.diff"], until_decided=True, max_trials=4000, **kw)
    rec = big.records[0]
    assert big.reused >= 6                                      # the earlier chunks are reused
    assert rec["verdict"] == "PASS" and rec["extra"]["sequential"]["method"]
    assert 40 < rec["trials"] <= 4000
    assert rec["mutations"][0]["verdict"] == "FAIL" and rec["status"] == "OK"
    again = runner.run(["seq.diff"], until_decided=True, max_trials=4000, **kw)
    assert again.executed == 0 and again.records == big.records   # resumes, byte-identical
    from depthcheck.validation.run import report
    report.regenerate(tmp_path / "seq", figures=False, modules=MODS)  # extended layout reloads
    with pytest.raises(ValueError, match="max_trials"):
        runner.run(["seq.diff"], max_trials=10, **kw)


def test_plan_trials_extends_a_wide_pilot_to_delta_over_two(tmp_path):
    from depthcheck.validation.run import report
    kw = dict(modules=MODS, progress=False, figures=False)
    pilot = runner.run(["seq.diff"], out=tmp_path / "pilot", **kw)
    hw = 0.5 * (pilot.records[0]["ci"][1] - pilot.records[0]["ci"][0])
    assert hw > 0.1                                    # 40 trials do not resolve delta/2 = 0.1
    res = runner.run(["seq.diff"], out=tmp_path / "plan", plan_trials=True, **kw)
    rec = res.records[0]
    pl = rec["planned"]
    assert pl["pilot_trials"] == 40 and pl["planned_trials"] == rec["trials"] > 40
    assert not pl["reached_budget"] and 0.5 * (rec["ci"][1] - rec["ci"][0]) <= 0.1
    assert rec["verdict"] == "PASS" and rec["status"] == "OK"
    capped = runner.run(["seq.diff"], out=tmp_path / "cap", plan_trials=True, max_trials=60, **kw)
    assert capped.records[0]["planned"]["reached_budget"] and capped.records[0]["trials"] == 60
    report.regenerate(tmp_path / "plan", figures=False, modules=MODS)
    assert "*Planned trials:* pilot 40 trials" in (tmp_path / "plan" / "report.md").read_text()
