"""depthcheck.validation.run."""
