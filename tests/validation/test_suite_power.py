"""Every registered claim shows its power in quick mode: its control FAILs, each of its
data-side mutations FAILs, and no statistical claim is an exact identity in disguise.

Runs the quick suite (one paper per test, so pytest-xdist spreads them). A new claim without a
failing mutation cannot land: add it to KNOWN_UNDERPOWERED only with the reason, and say so in
the report of the change.
"""
import pytest

from depthcheck.validation.run import registry, runner

#: claim id -> why its power is not shown yet (kept empty unless a reason is documented)
KNOWN_UNDERPOWERED: dict[str, str] = {}

GROUPS = sorted({c.id.split(".")[0] for c in registry.all_claims()})


@pytest.mark.parametrize("group", GROUPS)
def test_every_claim_of_the_paper_shows_its_power_in_quick_mode(group, tmp_path):
    res = runner.run([group], out=tmp_path, progress=False, figures=False)
    bad = []
    for r in res.records:
        if r["control"] or r["id"] in KNOWN_UNDERPOWERED:
            continue
        if r["status"] != "OK":
            bad.append(f"{r['id']}: {r['status']}: "
                       f"{r.get('underpowered') or r['detail'][:300]}")
        elif r["kind"] != "exact":
            assert r["delta"] is not None, r["id"]
            assert r["mutations"] and all(m["verdict"] == "FAIL" for m in r["mutations"])
            assert r["ci"][0] < r["ci"][1], r["id"]
    assert not bad, "\n".join(bad)
    stale = [cid for cid in KNOWN_UNDERPOWERED if cid.startswith(group + ".")
             and next(r for r in res.records if r["id"] == cid)["status"] == "OK"]
    assert not stale, f"remove from KNOWN_UNDERPOWERED, their power is shown now: {stale}"
