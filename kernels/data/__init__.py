"""depthcheck.kernels.data.synthetic."""
