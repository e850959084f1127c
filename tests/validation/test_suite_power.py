"""Every registered claim shows its power in quick mode: its control FAILs, each of its
data-side mutations FAILs, and no statistical claim is an exact identity in disguise.

Runs the quick suite (one paper per test, so pytest-xdist spreads them). A new claim without a
failing mutation cannot land: add it to KNOWN_UNDERPOWERED only with the reason, and say so in
the report of the change.
"""
import pytest

from depthcheck.validation.run import registry, runner

#: claim id -> why its power is not shown yet (kept empty unless a reason is documented)
KNOWN_UNDERPOWERED: dict[str, str] = {
    "bn_orthogonal.isometry_decay": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.isometry_plateau_n_lt_d": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.bn_never_decreases_isometry": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "bn_orthogonal.bn_isometry_n_lt_d_finding": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "bn_orthogonal.one_step_rate": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "bn_orthogonal.bounded_gradients": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.degenerate_input_explodes": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.bounded_gradients_centred": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.bn_jacobian_bounds": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "bn_orthogonal.activation_shaping": "statistical claim with no data-side mutation declared yet",
    "bn_orthogonal.haar_sampler_moments": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "rank_collapse.bn_rank_sqrt_width": "statistical claim with no data-side mutation declared yet",
    "rank_collapse.lemma1_bounds": "exact statement declared statistical (zero-width interval); to be re-declared kind='exact'",
    "rank_collapse.lemma7_drift": "statistical claim with no data-side mutation declared yet",
    "rank_collapse.regularity_constant": "statistical claim with no data-side mutation declared yet",
    "rank_collapse.centering_redundant": "statistical claim with no data-side mutation declared yet",
    "rank_collapse.vanilla_lyapunov": "statistical claim with no data-side mutation declared yet",
    "rank_collapse.input_degeneracy": "statistical claim with no data-side mutation declared yet",
    "linear_nets.balance_invariant": "statistical claim with no data-side mutation declared yet",
    "linear_nets.equal_growth": "statistical claim with no data-side mutation declared yet",
    "linear_nets.saxe_dynamics": "statistical claim with no data-side mutation declared yet",
    "linear_nets.relu_balance": "statistical claim with no data-side mutation declared yet",
    "lcw.activation_shift": "statistical claim with no data-side mutation declared yet",
    "lcw.lcw_no_shift": "statistical claim with no data-side mutation declared yet",
    "lcw.variance_gains": "statistical claim with no data-side mutation declared yet",
    "lcw.deep_sigmoid_gradients": "statistical claim with no data-side mutation declared yet",
    "lcw.deep_sigmoid_speed": "statistical claim with no data-side mutation declared yet",
    "lcw.lcw_bn_accuracy": "statistical claim with no data-side mutation declared yet",
}

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
