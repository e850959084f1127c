"""The Examples sections of depthcheck.validation run as doctests and pass.

Covers the modules of the paper packages (``depthcheck.validation.papers.*``), the benchmarks
(``depthcheck.validation.bench``) and the registry and command line
(``depthcheck.validation.run.registry``, ``depthcheck.validation.run.cli``). A second test makes
sure the public entry points keep a numpydoc docstring with runnable Examples, so the first test
cannot pass by having nothing to run.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import depthcheck.validation.bench as bench_pkg
import depthcheck.validation.papers as papers_pkg
from depthcheck.validation.run import cli, registry


def _modules(pkg) -> list[str]:
    names = [pkg.__name__]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("__"):
            names.append(info.name)
    return names


MODULES = sorted({*_modules(papers_pkg), *_modules(bench_pkg),
                  "depthcheck.validation.run.registry", "depthcheck.validation.run.cli"})

#: Public entry points that must carry numpydoc sections and at least one example.
ENTRY_POINTS = [registry.select, registry.all_claims, cli.main]
PAPER_PACKAGES = ["bn_orthogonal", "rank_collapse", "linear_nets", "lcw"]


def _public_helpers():
    out = []
    for name in PAPER_PACKAGES:
        pkg = importlib.import_module(f"depthcheck.validation.papers.{name}")
        out += [getattr(pkg, h) for h in pkg.__all__ if h not in ("CLAIMS", "NOT_CHECKABLE")]
    return out


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    state = np.get_printoptions()
    try:
        for test in finder.find(module, name, globs=dict(vars(module))):
            runner.run(test)
    finally:
        np.set_printoptions(**state)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples of {name} failed"


@pytest.mark.parametrize("obj", ENTRY_POINTS + _public_helpers(),
                         ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_entry_points_document_and_run_examples(obj):
    doc = obj.__doc__ or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert f"\n    {section}\n    {'-' * len(section)}" in doc, (obj.__qualname__, section)
    tests = doctest.DocTestFinder().find(obj, obj.__qualname__,
                                         globs=dict(vars(importlib.import_module(obj.__module__))))
    assert sum(len(t.examples) for t in tests) >= 2, obj.__qualname__


def test_a_failing_example_is_reported():
    """The runner used above does count a wrong example as a failure."""
    def f():
        """
        >>> 1 + 1
        3
        """
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(f, "f", globs={}):
        runner.run(test, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1
