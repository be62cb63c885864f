"""Just enough of a PDF reader to check the reports Qt's PDF writer makes: the page count and
the text drawn on the pages (PySide6-Essentials has no QtPdf, and no PDF library is a dependency).

Qt writes each font as a Type0 font with a ``/ToUnicode`` map and draws text as hexadecimal glyph
codes (``<0001> Tj``) in Flate-compressed content streams; spaces are usually moves, not glyphs,
so compare text with the white space taken out (:func:`squeeze`).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from pathlib import Path

_OBJECT = re.compile(rb"(?m)^(\d+) 0 obj\b(.*?)\bendobj", re.S)
_REF = rb"(\d+) 0 R"


def _objects(data: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in _OBJECT.finditer(data)}


def _stream(body: bytes) -> bytes:
    head, _, rest = body.partition(b"stream")
    rest = rest[2:] if rest.startswith(b"\r\n") else rest[1:]
    content = rest[:rest.rfind(b"endstream")]
    return zlib.decompress(content) if b"/FlateDecode" in head else content


def _unicode_map(cmap: bytes) -> dict[int, str]:
    """Glyph code -> text from a ToUnicode CMap (bfchar and bfrange, both forms)."""
    mapping: dict[int, str] = {}

    def text(hexes: bytes) -> str:
        return bytes.fromhex(hexes.decode()).decode("utf-16-be")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, value in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = text(value)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        pattern = rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\[[^\]]*\]|<[0-9A-Fa-f]+>)"
        for low, high, target in re.findall(pattern, block):
            first, last = int(low, 16), int(high, 16)
            if target.startswith(b"["):
                for offset, value in enumerate(re.findall(rb"<([0-9A-Fa-f]+)>", target)):
                    mapping[first + offset] = text(value)
            else:
                start = int(target[1:-1], 16)
                for offset in range(last - first + 1):
                    mapping[first + offset] = chr(start + offset)
    return mapping


def page_count(path: str | Path) -> int:
    """The number of page objects (``/Type /Page``) in the file."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", Path(path).read_bytes()))


def page_text(path: str | Path) -> str:
    """The text drawn on every page, in drawing order, one line per text object."""
    objects = _objects(Path(path).read_bytes())
    lines: list[str] = []
    for body in objects.values():
        if not re.search(rb"/Type\s*/Page\b(?!s)", body):
            continue
        resources = body
        found = re.search(rb"/Resources\s+" + _REF, body)
        if found:
            resources = objects[int(found.group(1))]
        fonts: dict[bytes, dict[int, str]] = {}
        font_block = re.search(rb"/Font\s*<<(.*?)>>", resources, re.S)
        for name, ref in re.findall(rb"/(\w+)\s+" + _REF, font_block.group(1) if font_block
                                    else b""):
            to_unicode = re.search(rb"/ToUnicode\s+" + _REF, objects[int(ref)])
            fonts[name] = (_unicode_map(_stream(objects[int(to_unicode.group(1))]))
                           if to_unicode else {})
        contents = re.search(rb"/Contents\s+" + _REF, body)
        stream = _stream(objects[int(contents.group(1))])
        for block in re.findall(rb"BT(.*?)ET", stream, re.S):
            mapping: dict[int, str] = {}
            line = []
            for font, codes in re.findall(rb"/(\w+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]+)>", block):
                if font:
                    mapping = fonts.get(font, {})
                    continue
                for i in range(0, len(codes), 4):
                    line.append(mapping.get(int(codes[i:i + 4], 16), "?"))
            lines.append("".join(line))
    return "\n".join(lines)


def image_widths_pt(path: str | Path) -> list[float]:
    """How wide each image is drawn, in points (1/72 inch), on the first page: Qt draws in
    device pixels (a first ``cm`` scales them to points), then places the image with a scaling
    ``cm`` and its own size ``cm`` before ``Do``.
    """
    objects = _objects(Path(path).read_bytes())
    page = next(body for body in objects.values() if re.search(rb"/Type\s*/Page\b(?!s)", body))
    stream = _stream(objects[int(re.search(rb"/Contents\s+" + _REF, page).group(1))])
    number = rb"(-?[\d.]+)"
    matrix = rb"\s+".join([number] * 6) + rb"\s+cm"
    device = float(re.search(matrix, stream).group(1))
    widths = []
    for found in re.finditer(matrix + rb"\s+" + matrix + rb"\s*/\w+\s+Do", stream):
        widths.append(abs(float(found.group(1)) * float(found.group(7))) * device)
    return widths


def squeeze(text: str) -> str:
    """``text`` without white space and with ligatures spelled out ("ﬁ" is "fi"), for
    comparing with :func:`page_text`.
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
