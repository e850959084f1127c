"""depthcheck.kernels.random."""
