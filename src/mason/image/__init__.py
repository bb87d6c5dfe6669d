"""Image views and where they live.

An :class:`~mason.image.view.Image` is a read-only view (manifest, config, layers) whatever its
backing: a registry, an OCI layout directory, a docker-archive tarball, memory or ``scratch``.
Sources produce views; sinks accept them; :func:`mason.image.copy.copy` moves one to the other.
"""
