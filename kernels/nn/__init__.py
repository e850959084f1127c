"""depthcheck.kernels.nn."""
