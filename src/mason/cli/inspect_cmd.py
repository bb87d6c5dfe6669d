"""``mason inspect REF``: an image's digest, media type, platform, layers and config summary."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from mason.cli.copy_cmd import add_registry_flags

    parser.add_argument("ref", metavar="REF", help="REGISTRY/REPO:TAG, oci:DIR[:REF], docker-archive:FILE[:NAME], scratch")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print a JSON document")
    out.add_argument("--raw", action="store_true", help="print the manifest (or index) bytes exactly as stored")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="for a multi-platform index, inspect this platform's image")
    add_registry_flags(parser)


def describe(view) -> dict:
    """A JSON-able summary of an Image or ImageIndex."""
    from mason.image.view import ImageIndex

    if isinstance(view, ImageIndex):
        return {"name": view.name, "digest": view.digest, "mediaType": view.media_type, "size": view.size,
                "manifests": [{"digest": d.digest, "mediaType": d.media_type, "size": d.size,
                               "platform": str(d.platform) if d.platform else None} for d in view.manifests]}
    return {"name": view.name, "digest": view.digest, "mediaType": view.media_type, "size": view.size,
            "platform": str(view.platform),
            "config": {"digest": view.config_descriptor.digest, "mediaType": view.config_descriptor.media_type,
                       "size": view.config_descriptor.size, **view.config.summary()},
            "layers": [{"digest": l.digest, "size": l.size, "mediaType": l.media_type, "diffID": l.diff_id}
                       for l in view.layers],
            "totalSize": sum(l.size for l in view.layers)}


def render_text(info: dict) -> str:
    lines = [f"Name:       {info['name']}", f"Digest:     {info['digest']}", f"MediaType:  {info['mediaType']}"]
    if "manifests" in info:
        lines.append(f"Manifests:  {len(info['manifests'])}")
        for m in info["manifests"]:
            lines.append(f"  {m['digest']}  {m['platform'] or '-':<16} {m['size']:>8}  {m['mediaType']}")
        return "\n".join(lines)
    config = dict(info["config"])
    lines.append(f"Platform:   {info['platform']}")
    lines.append(f"Config:     {config.pop('digest')} ({config.pop('size')} bytes, {config.pop('mediaType')})")
    config.pop("platform", None)
    for key, value in config.items():
        lines.append(f"  {key + ':':<15} {value}")
    lines.append(f"Layers:     {len(info['layers'])} ({info['totalSize']} bytes)")
    for layer in info["layers"]:
        lines.append(f"  {layer['digest']}  {layer['size']:>10}  {layer['mediaType']}")
    return "\n".join(lines)


def run(args) -> int:
    import json
    import sys

    from mason.cli.copy_cmd import client_factory
    from mason.image.location import open_source, parse_location
    from mason.image.view import ImageIndex
    from mason.oci.platform import parse_platform

    platform = parse_platform(args.platform) if args.platform else None
    view = open_source(parse_location(args.ref), client_factory(args), platform)
    if platform is not None and isinstance(view, ImageIndex):
        view = view.select(platform)
    if args.raw:
        sys.stdout.buffer.write(view.manifest_bytes)
        sys.stdout.flush()
    elif args.json:
        print(json.dumps(describe(view), indent=2))
    else:
        print(render_text(describe(view)))
    return 0
