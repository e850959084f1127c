"""depthcheck.kernels.backends.cuda."""
