"""Barcode decoding for cameras and `dockscan decode`: backends, localisation, the pipeline."""

from edge.vision.backends import Code
from edge.vision.decode import ALL_SYMBOLOGIES, Decoder, DecoderSettings

__all__ = ["ALL_SYMBOLOGIES", "Code", "Decoder", "DecoderSettings"]
