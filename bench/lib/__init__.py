"""Building blocks of the mason-vs-Buildah benchmark (stdlib only, so any python3 runs it)."""
