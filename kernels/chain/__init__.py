"""depthcheck.kernels.chain.driver."""
