"""depthcheck.validation.claims."""
