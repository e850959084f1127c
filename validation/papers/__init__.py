"""depthcheck.validation.papers."""
