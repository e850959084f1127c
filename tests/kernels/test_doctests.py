"""The Examples of the kernels' docstrings run (doctest), and the public entry points have them.

A docstring example that no longer runs is a wrong piece of documentation; a public entry
point without a runnable example is a missing one.
"""
import doctest
import importlib

import numpy as np
import pytest

MODULES = [
    "depthcheck.kernels",
    "depthcheck.kernels.strategies",
    "depthcheck.kernels.backends.numpy",
    "depthcheck.kernels.chain.driver",
    "depthcheck.kernels.chain.spec",
    "depthcheck.kernels.chain.statistics",
    "depthcheck.kernels.chain.reduced",
    "depthcheck.kernels.nn.activations",
    "depthcheck.kernels.nn.norms",
    "depthcheck.kernels.nn.layer",
    "depthcheck.kernels.nn.network",
    "depthcheck.kernels.nn.mlp",
    "depthcheck.kernels.nn.lcw",
    "depthcheck.kernels.nn.training",
    "depthcheck.kernels.data",
    "depthcheck.kernels.data.synthetic",
    "depthcheck.kernels.data.images",
]

#: public entry points that must carry a runnable Examples section
DOCUMENTED = [
    ("depthcheck.kernels.chain.driver", "simulate_chain"),
    ("depthcheck.kernels.chain.driver", "chain_weights"),
    ("depthcheck.kernels.chain.spec", "ChainSpec"),
    ("depthcheck.kernels.nn.network", "forward_backward"),
    ("depthcheck.kernels.nn.network", "forward"),
    ("depthcheck.kernels.nn.mlp", "init_mlp"),
    ("depthcheck.kernels.nn.mlp", "make_loss_and_grad"),
    ("depthcheck.kernels.nn.training", "train"),
]

#: numpydoc sections every entry point of DOCUMENTED carries
SECTIONS = ("Parameters", "Returns", "Raises", "References", "Examples")


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for test in finder.find(mod, name):
            if test.examples and test.name.startswith(name):  # skip re-exported objects
                out.append(pytest.param(test, id=test.name))
    return out


DOCTESTS = _doctests()


def test_the_doctests_were_found():
    names = {p.id for p in DOCTESTS}
    for mod, fn in DOCUMENTED:
        if fn != "ChainSpec":
            assert f"{mod}.{fn}" in names, f"{mod}.{fn} has no doctest"
    for mod in ("nn.layer", "chain.spec", "data.synthetic", "data.images"):  # module examples
        assert f"depthcheck.kernels.{mod}" in names, mod


@pytest.mark.parametrize("test", DOCTESTS)
def test_docstring_examples_run(test):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with np.printoptions(legacy=False):  # the examples show numpy >= 2 reprs
        runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{test.name}: {res.failed} of {res.attempted} examples failed"


def _section(doc: str, title: str) -> str:
    """The body of numpydoc section ``title`` ('' when absent)."""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for line, nxt in zip(lines[i + 2:], lines[i + 3:] + [""]):
                if nxt.strip() and set(nxt.strip()) == {"-"} and line.strip():
                    break  # the next section's title
                body.append(line)
            return "\n".join(body)
    return ""


@pytest.mark.parametrize("mod,name", DOCUMENTED)
def test_public_entry_points_have_numpydoc_sections(mod, name):
    obj = getattr(importlib.import_module(mod), name)
    doc = obj.__doc__ if name != "ChainSpec" else importlib.import_module(mod).__doc__
    assert doc, f"{mod}.{name} has no docstring"
    for title in SECTIONS if name != "ChainSpec" else ("Examples",):
        assert _section(doc, title).strip(), f"{mod}.{name}: no {title!r} section"
    assert ">>>" in _section(doc, "Examples"), f"{mod}.{name}: Examples without code"
    if name != "ChainSpec":
        assert "arXiv:" in _section(doc, "References"), f"{mod}.{name}: cite the paper"


def test_section_parser_can_fail():
    doc = "Summary.\n\nParameters\n----------\nx : int\n\nReturns\n-------\nint\n"
    assert _section(doc, "Parameters").strip() == "x : int"
    assert _section(doc, "Returns").strip() == "int"
    assert _section(doc, "Examples") == ""
