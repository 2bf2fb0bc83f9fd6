"""A file's text, whatever its kind: plain text and Markdown as they are (UTF-8, or GB18030
for older Chinese files), HTML without its tags, scripts and styles, PDF page by page
(pypdf), Word documents paragraph by paragraph with their tables (python-docx), CSV one
row a line, JSON one value a line with its path.

The kind comes from the file name's extension, checked against the first bytes (a PDF
named `.txt` is still read as a PDF). A file that cannot be read raises `DocumentError`
with a reason that says what to do. Reading is bounded: at most `MAX_PDF_PAGES` pages, a
Word file whose parts unpack to at most `MAX_UNPACKED_BYTES`, and at most `MAX_CHARS`
characters of text, so a small hostile file cannot take the server's memory or time.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

KINDS = {
    ".txt": "text", ".md": "text", ".markdown": "text", ".text": "text",
    ".html": "html", ".htm": "html",
    ".pdf": "pdf", ".docx": "docx", ".csv": "csv", ".json": "json", ".jsonl": "jsonl",
}  # fmt: skip


MAX_PDF_PAGES = 2000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_CHARS = 10_000_000


class DocumentError(ValueError):
    """The file cannot be read as a document; the message says why and what to do."""


def document_text(filename: str, content: bytes) -> str:
    """The text of the file `filename` whose bytes are `content`."""
    kind = _kind(filename, content)
    try:
        text = READERS[kind](content)
    except DocumentError as exc:
        raise DocumentError(f"{filename}: {exc}") from exc
    except Exception as exc:  # each parser fails in its own way on a damaged file
        raise DocumentError(
            f"{filename} could not be read as {kind.upper()} ({type(exc).__name__}); "
            "check that the file is whole, or upload it as plain text"
        ) from exc
    if not text.strip():
        raise DocumentError(
            f"{filename} has no text to search (a scanned PDF is images: run OCR on it first)"
        )
    if len(text) > MAX_CHARS:
        raise DocumentError(
            f"{filename} holds more than {MAX_CHARS:,} characters of text; split it into "
            "smaller files"
        )
    return text


def _kind(filename: str, content: bytes) -> str:
    if content.startswith(b"%PDF-"):
        return "pdf"
    extension = PurePath(filename).suffix.lower()
    if extension not in KINDS:
        raise DocumentError(
            f"{filename}: files of type {extension or '(none)'} cannot be searched; upload "
            f"one of {', '.join(sorted(KINDS))}"
        )
    kind = KINDS[extension]
    if kind == "docx" and not content.startswith(b"PK"):
        raise DocumentError(f"{filename} is not a Word .docx file (an old .doc? save it as .docx)")
    return kind


def decoded(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("the text is neither UTF-8 nor GB18030; save it as UTF-8")


class _HtmlText(HTMLParser):
    SKIPPED = {"script", "style", "noscript", "template", "head"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
              "article", "table", "ul", "ol", "pre", "blockquote", "title"}  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html(content: bytes) -> str:
    parser = _HtmlText()
    parser.feed(decoded(content))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n\n".join(line for line in lines if line)


def _pdf(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    if reader.is_encrypted:
        raise DocumentError("the PDF is encrypted; upload it without a password")
    if len(reader.pages) > MAX_PDF_PAGES:
        raise DocumentError(
            f"the PDF has {len(reader.pages)} pages, more than {MAX_PDF_PAGES}; split it"
        )
    pages, size = [], 0
    for page in reader.pages:
        pages.append((page.extract_text() or "").strip())
        size += len(pages[-1])
        if size > MAX_CHARS:
            break  # document_text refuses it, without reading the rest
    return "\n\n".join(pages)


def _docx(content: bytes) -> str:
    import docx

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentError(
            f"the Word file unpacks to {unpacked:,} bytes, more than {MAX_UNPACKED_BYTES:,}; "
            "save its text as a smaller file"
        )
    document = docx.Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n\n".join(part for part in parts if part.strip())


def _csv(content: bytes) -> str:
    rows = csv.reader(io.StringIO(decoded(content)))
    return "\n".join(", ".join(cell for cell in row if cell) for row in rows if any(row))


def _json(content: bytes) -> str:
    return "\n".join(_flattened(json.loads(decoded(content))))


def _jsonl(content: bytes) -> str:
    lines = [line for line in decoded(content).splitlines() if line.strip()]
    return "\n\n".join("\n".join(_flattened(json.loads(line))) for line in lines)


def _flattened(value: Any, path: str = "") -> Iterator[str]:
    """`path: value` for each string, number or boolean inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flattened(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _flattened(item, path)
    elif value is not None:
        yield f"{path}: {value}" if path else str(value)


READERS: dict[str, Callable[[bytes], str]] = {
    "text": decoded, "html": _html, "pdf": _pdf, "docx": _docx,
    "csv": _csv, "json": _json, "jsonl": _jsonl,
}  # fmt: skip
