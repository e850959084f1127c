"""Every Examples section of ``depthcheck.theory`` runs, and every public function has one.

The examples are documentation a reader can check by hand: their expected values come from the
papers or from a short hand computation written next to them, never from pasting the code's own
output. This test keeps them true (doctest), and keeps them there (a public function without an
Examples section fails).
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re

import pytest

import depthcheck.theory as theory_pkg

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = ["depthcheck.theory"]
    for info in pkgutil.iter_modules(theory_pkg.__path__):
        names.append(f"depthcheck.theory.{info.name}")
    return sorted(names)


MODULES = _module_names()
PUBLIC_MODULES = [m for m in MODULES if not m.rpartition(".")[2].startswith("_")]


def _public_functions(module):
    """(name, function) of the module's public functions: its ``__all__``, or else every name
    without a leading underscore that is defined in it."""
    if hasattr(module, "__all__"):
        names = list(module.__all__)
    else:
        names = [n for n, obj in vars(module).items() if not n.startswith("_")
                 and inspect.isfunction(obj) and obj.__module__ == module.__name__]
    for name in names:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield name, obj


_EXAMPLES = re.compile(r"^\s*Examples\n\s*-{8,}\n(?P<body>.*)", re.S | re.M)


def test_theory_has_modules():
    # guard against an empty parametrisation that would make the tests below vacuous
    assert len(PUBLIC_MODULES) >= 9, PUBLIC_MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest(s) failed in {name}"
    if name in PUBLIC_MODULES and name != "depthcheck.theory":
        assert result.attempted > 0, f"{name} has no doctest at all"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_functions_have_examples(name):
    module = importlib.import_module(name)
    missing = []
    for fname, fn in _public_functions(module):
        m = _EXAMPLES.search(inspect.getdoc(fn) or "")
        if m is None or ">>>" not in m.group("body"):
            missing.append(fname)
    assert not missing, f"{name}: public functions without a runnable Examples section: {missing}"


def test_examples_detector_can_fail():
    """The section check rejects a docstring without an Examples section."""
    def undocumented():
        """Only a summary line.

        Returns
        -------
        None
        """
    def documented():
        """Summary.

        Examples
        --------
        >>> 1 + 1
        2
        """
    assert _EXAMPLES.search(inspect.getdoc(undocumented)) is None
    assert ">>>" in _EXAMPLES.search(inspect.getdoc(documented)).group("body")
