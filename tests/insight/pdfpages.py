"""PDF pages as pixels (pypdfium2) and as PNG files, for tests that look at a printed report.

pypdfium2 renders a page into a raw BGR(A) buffer; writing that as PNG needs only zlib, so no
imaging library is needed for the tests or for saving pages to look at.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium


@dataclass(frozen=True)
class PageImage:
    width: int
    height: int
    rgb: bytes
    """Rows of width × 3 bytes, top row first."""

    def ink_share(self, threshold: int = 200) -> float:
        """Share of pixels darker than `threshold` (0..1): 0 for a blank page."""
        grey = self.rgb[1::3]  # the green channel is close enough to brightness for ink
        dark = sum(1 for value in grey if value < threshold)
        return dark / max(len(grey), 1)

    def variance(self) -> float:
        """Variance of the green channel: 0 for a page of one colour."""
        grey = self.rgb[1::3]
        mean = sum(grey) / len(grey)
        return sum((v - mean) ** 2 for v in grey) / len(grey)

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + self.rgb[y * self.width * 3 : (y + 1) * self.width * 3]
            for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 6))
            + chunk(b"IEND", b"")
        )


def page_count(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


def render_pages(pdf: bytes, scale: float = 1.0) -> list[PageImage]:
    """Every page at `scale` (1.0 = 72 dpi), as RGB pixels."""
    document = pdfium.PdfDocument(pdf)
    images = []
    try:
        for index in range(len(document)):
            page = document[index]
            bitmap = page.render(scale=scale, rev_byteorder=True)  # RGB(A) instead of BGR(A)
            width, height, stride = bitmap.width, bitmap.height, bitmap.stride
            channels = stride // width if width else 3
            raw = bytes(bitmap.buffer)
            rgb = bytearray()
            for y in range(height):
                row = raw[y * stride : y * stride + width * channels]
                if channels == 3:
                    rgb += row
                else:
                    for x in range(0, width * channels, channels):
                        rgb += row[x : x + 3]
            images.append(PageImage(width, height, bytes(rgb)))
            bitmap.close()
            page.close()
    finally:
        document.close()
    return images


def page_texts(pdf: bytes) -> list[str]:
    """The text of every page (for checking what is on which page)."""
    document = pdfium.PdfDocument(pdf)
    texts = []
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
    finally:
        document.close()
    return texts


def save_pages(pdf: bytes, folder: Path, scale: float = 1.5, prefix: str = "pagina") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, image in enumerate(render_pages(pdf, scale), start=1):
        path = folder / f"{prefix}-{number:02d}.png"
        path.write_bytes(image.png())
        paths.append(path)
    return paths
