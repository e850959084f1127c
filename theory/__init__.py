"""depthcheck.theory: closed forms, bounds and exact moments from the source papers.

The ground floor of the library: imports neither ``kernels`` nor ``validation``. Every public
function documents its formula, its source (paper file in ``shared/seeds`` and theorem/equation)
and its assumptions.
"""
