"""Bake files (``mason.bake.yml``): several images described once, built together."""

from mason.bake.model import BakeFile, ImageSpec, load_bake, parse_bake

__all__ = ["BakeFile", "ImageSpec", "load_bake", "parse_bake"]
