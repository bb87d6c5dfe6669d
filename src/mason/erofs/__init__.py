"""Layers as EROFS images: one file per layer instead of one file per layer entry.

A RUN step needs the whole base root as an overlay lower dir. Extracting a 6 700-entry
Debian layer into a directory creates 6 700 inodes, and on the benchmark machine (ext4
without a journal, right after a previous build deleted ~30 000 files) inode creation is
what dominated a cold build. Writing the same layer as a read-only EROFS image makes it one
file, written sequentially; the kernel then mounts that file (file-backed mounts, Linux 6.12+)
and overlayfs stacks it like any directory. containerd's EROFS snapshotter and composefs use
the kernel filesystem the same way.

* ``layout``: the on-disk encoding (superblock, inodes, xattrs, directory blocks).
* ``tree``: a layer's entries as an in-memory tree, with the same rules and refusals as
  ``mason.tarfs.extract``'s overlay mode (whiteouts as 0/0 devices, opaque xattrs).
* ``image``: tar stream -> image file, streaming file contents straight to the data area.
* ``mount``: whether this kernel and these privileges can mount one; mount and unmount.
"""
