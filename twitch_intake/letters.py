"""The printed invitation's QR code: SVG made by ``segno`` (no image library)."""

from __future__ import annotations

import segno


def qr_data_uri(link: str) -> str:
    """The link as a QR code, an SVG in a ``data:`` URI for an ``<img>``: escaped like any
    attribute, so no markup is marked safe."""
    return str(segno.make(link, error="m", micro=False).svg_data_uri(scale=5, border=4))
