"""Running a RUN step in isolation.

Public API (import from the modules; this package imports nothing so the sandbox helper
processes start fast):

* ``capabilities.detect(work_dir) -> Isolation``; ``capabilities.choose(isolation, forced)``
* ``runner.make_runner(isolation, scratch_dir) -> Runner`` (``NamespaceRunner`` / ``ChrootRunner``)
* ``spec.RunSpec``, ``spec.Mount``; ``users.resolve_user(root, "name[:group]") -> ExecUser``
* ``rootfs.resolve(root, path)``: a path inside an image root, symlinks confined to it
* ``stubs.Stubs``: mount-point stubs removed after the step

Design notes: docs/sandbox.md.
"""
