"""NotCheckable records: validated on construction, collected by the registry, printed by
``depthcheck list`` beside the claims, and checked against the claim ids they point to."""
import sys
import types

import pytest

from depthcheck.validation.claims.claim import NotCheckable
from depthcheck.validation.run import cli, registry


def _item(**kw):
    base = dict(id="toy.vgg19", item="Figure 5: VGG19 on CIFAR-10",
                source="Toy et al. 2020 (arXiv:0000.00000), Figure 5",
                why="needs a GPU week and a download")
    base.update(kw)
    return NotCheckable(**base)


@pytest.mark.parametrize("bad, match", [
    (dict(id="novgg"), "group.name"),
    (dict(why="  "), "why must be a non-empty"),
    (dict(item=""), "item must be a non-empty"),
    (dict(instead="toy.claim"), "instead must be a tuple"),
    (dict(instead=("not an id",)), "instead must be a tuple"),
])
def test_bad_records_are_refused_naming_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        _item(**bad)


def _module(name, items, claims=()):
    mod = types.ModuleType(name)
    mod.CLAIMS = list(claims)
    mod.NOT_CHECKABLE = items
    sys.modules[name] = mod
    return name


def test_list_prints_every_not_checkable_item_with_its_reason(capsys):
    name = _module("_toy_nc_ok", [_item(instead=("bn_orthogonal.isometry_decay",))])
    try:
        assert cli.main(["list", "--module", name]) == 0
    finally:
        del sys.modules[name]
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("toy.vgg19"))
    assert "not checkable here: needs a GPU week and a download" in line
    assert "Instead: bn_orthogonal.isometry_decay." in line
    # the claims are still listed first
    assert out.index("bn_orthogonal.isometry_decay") < out.index("toy.vgg19")


def test_instead_must_name_registered_claims():
    name = _module("_toy_nc_bad", [_item(instead=("toy.no_such_claim",))])
    try:
        with pytest.raises(ValueError, match="unknown claims"):
            registry.not_checkable([name])
    finally:
        del sys.modules[name]


def test_not_checkable_must_be_a_list_of_records():
    name = _module("_toy_nc_type", ["just a string"])
    try:
        with pytest.raises(ValueError, match="NOT_CHECKABLE must be a list"):
            registry.not_checkable([name])
    finally:
        del sys.modules[name]


def test_an_id_cannot_be_both_a_claim_and_not_checkable():
    name = _module("_toy_nc_clash", [_item(id="bn_orthogonal.isometry_decay")])
    try:
        with pytest.raises(ValueError, match="also a claim id"):
            registry.not_checkable([name])
    finally:
        del sys.modules[name]


def test_the_report_lists_the_not_checkable_items_of_the_papers_it_covers(tmp_path,
                                                                          monkeypatch):
    from depthcheck.validation.run import runner
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "toy_nc_report.py").write_text(
        "from depthcheck.validation.claims.claim import NotCheckable\n"
        "from tests.validation.toyclaims import MEAN\n"
        "CLAIMS = [MEAN]\n"
        "NOT_CHECKABLE = [\n"
        "    NotCheckable('toy.vgg19', 'Figure 5: VGG19 on CIFAR-10', 'Toy 2020, Figure 5',\n"
        "                 'needs a GPU week and a download', instead=('toy.mean',)),\n"
        "    NotCheckable('other.thing', 'Theorem 9', 'Other 2021', 'not a statement')]\n")
    runner.run(["toy.mean"], out=tmp_path / "run", modules=["toy_nc_report"], progress=False,
               figures=False)
    md = (tmp_path / "run" / "report.md").read_text()
    sec = md[md.index("## Not checkable here"):]
    assert "**Figure 5: VGG19 on CIFAR-10**" in sec and "needs a GPU week" in sec
    assert "Instead: `toy.mean`" in sec
    assert "Theorem 9" not in md      # another paper's item: not in this run's report
