"""depthcheck.theory: closed forms, bounds and exact moments from the source papers.

The ground floor of the library: imports neither ``kernels`` nor ``validation``. Every public
function documents its formula, its source (paper, arXiv id, theorem or equation), its
assumptions, and carries an Examples section whose values can be checked by hand.

Modules
-------
isometry, bn_orthogonal
    Meterez et al., ICLR 2024, arXiv:2310.02012 (BN with Haar-orthogonal weights).
rank, rank_markov, lyapunov
    Daneshmand et al., NeurIPS 2020, arXiv:2003.01652 (rank collapse), and the exact Lyapunov
    spectrum of Gaussian products (Newman 1986; Forrester 2013).
linear_nets
    Basu, Mukherjee & Vasudevan, arXiv:1904.10689 (layer dynamics of linear nets), with Arora,
    Cohen & Hazan (2018) and Saxe, McClelland & Ganguli (2013).
lcw
    Kutsuna, arXiv:2403.13833 (linearly constrained weights).
weingarten, weingarten_reference
    Exact Haar moments on O(d) and U(d) (Collins & Śniady 2006).

Derivations that are longer than a docstring live in ``docs/derivations/``; the bibliography is
``docs/references.bib``.
"""
