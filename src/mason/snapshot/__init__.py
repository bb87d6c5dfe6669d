"""What a build step changed, as a :class:`~mason.snapshot.changeset.ChangeSet`.

* ``overlay.OverlayRoot(lowers, state_dir)``: context manager mounting the step's root;
  ``overlay.cleanup_stale(work_root)`` removes overlays of dead processes.
* ``upperdiff.diff_upper(upper, lowers) -> ChangeSet``: with mount rights.
* ``walker.take(root) -> Snapshot``; ``Snapshot.diff() -> ChangeSet``: without them.

Both methods produce the same ChangeSet for the same change (``changeset.canonical``).
"""
