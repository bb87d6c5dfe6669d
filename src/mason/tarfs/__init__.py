"""Layer archives: compression, one-pass blob writing, layer writers, safe extraction."""
