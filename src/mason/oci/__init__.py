"""Pure OCI values: digests, media types, descriptors, platforms, manifests, indexes, configs.

Nothing here does I/O except hashing streams handed to it; every parser keeps the raw bytes it
was given so that digests of existing content never change.
"""
