"""Layer archives: compression, one-pass blob writing, layer writers, safe extraction.

Public API (import from here):

* compression: ``Compression``, ``detect_compression``, ``compression_from_media_type``,
  ``media_type_for``, ``open_compressor``, ``open_decompressor``, ``open_auto``
* writing: ``LayerOptions``, ``LayerEntry``, ``EntryType``, ``write_layer``,
  ``write_entries``, ``whiteout_entry``, ``opaque_entry``, ``TarLayerWriter``,
  ``BlobSink``, ``LayerBlob``
* extraction: ``extract_layer``, ``ExtractOptions``, ``ExtractLimits``, ``ExtractResult``

No module holds mutable state; every behaviour is chosen by frozen option values.
"""

from mason.lazyexports import lazy_exports

# Each name is imported from its module at first use (PEP 562), and the package imports no
# submodule itself: a build that writes no layer (all steps cached) does not load the writers,
# and no submodule is in an import cycle with its package (a thread importing one never meets
# a package still running its ``__init__`` in another thread).
_EXPORTS = {
    "mason.tarfs.compress": ("Compression", "compression_from_media_type", "detect_compression",
                             "media_type_for", "open_auto", "open_compressor", "open_decompressor"),
    "mason.tarfs.entries": ("EntryType", "LayerEntry", "LayerOptions"),
    "mason.tarfs.extract": ("ExtractLimits", "ExtractOptions", "ExtractResult", "extract_layer"),
    "mason.tarfs.sink": ("BlobSink", "LayerBlob"),
    "mason.tarfs.writer": ("TarLayerWriter", "opaque_entry", "whiteout_entry", "write_entries", "write_layer"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _MODULE_OF)


__all__ = [
    "Compression", "compression_from_media_type", "detect_compression", "media_type_for",
    "open_auto", "open_compressor", "open_decompressor",
    "EntryType", "LayerEntry", "LayerOptions",
    "ExtractLimits", "ExtractOptions", "ExtractResult", "extract_layer",
    "BlobSink", "LayerBlob",
    "TarLayerWriter", "opaque_entry", "whiteout_entry", "write_entries", "write_layer",
]
