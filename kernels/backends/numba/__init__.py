"""depthcheck.kernels.backends.numba."""
