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

from mason.tarfs.compress import (Compression, compression_from_media_type, detect_compression,
                                  media_type_for, open_auto, open_compressor, open_decompressor)
from mason.tarfs.entries import EntryType, LayerEntry, LayerOptions
from mason.tarfs.extract import ExtractLimits, ExtractOptions, ExtractResult, extract_layer
from mason.tarfs.sink import BlobSink, LayerBlob
from mason.tarfs.writer import (TarLayerWriter, opaque_entry, whiteout_entry, write_entries,
                                write_layer)

__all__ = [
    "Compression", "compression_from_media_type", "detect_compression", "media_type_for",
    "open_auto", "open_compressor", "open_decompressor",
    "EntryType", "LayerEntry", "LayerOptions",
    "ExtractLimits", "ExtractOptions", "ExtractResult", "extract_layer",
    "BlobSink", "LayerBlob",
    "TarLayerWriter", "opaque_entry", "whiteout_entry", "write_entries", "write_layer",
]
