"""Text extraction for file_search: one function from a stored file to plain text.

Every failure a user can cause (a format we do not read, a broken, encrypted or hostile file,
a file with no text, a file over the limits) is a ParseError whose code and message become the
vector store file's `last_error`. Anything else escaping from here is a bug.
"""

from __future__ import annotations

import codecs
import json
import pathlib
import re
import zipfile
from collections.abc import Callable, Iterator

import charset_normalizer
from django.conf import settings

# OpenAI's file_search list, plus a few obvious text siblings.
TEXT_EXTENSIONS = frozenset(
    {
        ".txt", ".text", ".md", ".markdown", ".rst", ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx",
        ".java", ".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".cs", ".go", ".rb", ".php", ".sh", ".bash",
        ".css", ".tex", ".rs", ".kt", ".swift", ".scala", ".sql", ".yaml", ".yml", ".toml", ".ini", ".xml",
        ".csv", ".tsv", ".log",
    }
)  # fmt: skip
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})

# Extracted text beyond this is refused without counting tokens (no real document needs it).
MAX_TEXT_BYTES = 200 * 1024 * 1024
# DOCX and PPTX are zip files: refuse archives that would inflate beyond these before opening.
ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_ENTRIES = 10_000


class ParseError(Exception):
    """A file that cannot be indexed; `code` is "unsupported_file" or "invalid_file"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def extract_text(path: pathlib.Path, filename: str) -> str:
    """The file's text, ready for chunking. Raises ParseError for anything we cannot index."""
    extension = pathlib.PurePath(filename).suffix.lower()
    reader = _reader_for(extension, path)
    text = reader(path)
    text = _tidy(text)
    if not text.strip():
        raise ParseError("invalid_file", "No text could be extracted from the file.")
    _check_size(text)
    return text


def _reader_for(extension: str, path: pathlib.Path) -> Callable[[pathlib.Path], str]:
    if extension in TEXT_EXTENSIONS:
        return _read_text
    if extension in HTML_EXTENSIONS:
        return _read_html
    if extension == ".json":
        return _read_json
    if extension == ".pdf":
        return _read_pdf
    if extension == ".docx":
        return _read_docx
    if extension == ".pptx":
        return _read_pptx
    if extension == ".doc":
        raise ParseError("unsupported_file", "Legacy .doc files are not supported; save the file as .docx.")
    if not extension:
        return _sniff(path)
    raise ParseError("unsupported_file", f"Files of type {extension} are not supported.")


def _sniff(path: pathlib.Path) -> Callable[[pathlib.Path], str]:
    """A file without an extension: a PDF by its magic number, text when it has no NUL bytes."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head.startswith(b"%PDF-"):
        return _read_pdf
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ParseError("unsupported_file", "Files without an extension must be text or PDF.")
    return _read_text


def max_tokens() -> int:
    return settings.RETRIEVAL_MAX_FILE_TOKENS


def _check_size(text: str) -> None:
    limit = max_tokens()
    too_big = ParseError("invalid_file", f"The file has more than the {limit:,} tokens a file may have.")
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise too_big
    # A token is at least one byte, so only texts longer than the limit in bytes need counting.
    if size > limit:
        from console.retrieval.chunking import count_tokens

        if count_tokens(text) > limit:
            raise too_big


_BLANK_RUNS = re.compile(r"\n[ \t\r\f\v]*(?:\n[ \t\r\f\v]*){2,}")


def _tidy(text: str) -> str:
    # NUL bytes are refused by PostgreSQL text columns, lone surrogates (from JSON escapes) by
    # UTF-8; runs of blank lines only waste tokens.
    text = text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "")
    return _BLANK_RUNS.sub("\n\n", text).strip()


# --- text -----------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """Bytes to text: a BOM wins, then UTF-8, then charset-normalizer's best guess."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise ParseError("invalid_file", "The file's text encoding could not be detected.")
    # Western European bytes often fit several code pages equally well; Windows-1252 is by far
    # the most common of them, so it wins ties.
    for match in matches:
        if match.encoding in _PREFERRED and (match.chaos, match.coherence) == (best.chaos, best.coherence):
            return str(match)
    return str(best)


_PREFERRED = ("cp1252", "latin_1", "iso8859_15")


def _read_text(path: pathlib.Path) -> str:
    return decode(path.read_bytes())


def _read_json(path: pathlib.Path) -> str:
    text = decode(path.read_bytes())
    try:
        value = json.loads(text)
    except ValueError:
        return text  # JSON Lines and near-JSON still read well as text.
    return json.dumps(value, indent=2, ensure_ascii=False)


_HTML_DROP = "script, style, noscript, template, svg, head"
_HTML_BLOCKS = (
    "p, div, br, li, tr, h1, h2, h3, h4, h5, h6, pre, blockquote, section, article, header, footer,"
    " table, ul, ol, dl, dt, dd, hr, title, td, th"
)


def _read_html(path: pathlib.Path) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode(path.read_bytes()))
    title = tree.css_first("title")
    title_text = title.text(strip=True) if title is not None else ""
    for node in tree.css(_HTML_DROP):
        node.decompose()
    # Text nodes of adjacent blocks would run together; a newline after each block keeps them apart.
    for node in tree.css(_HTML_BLOCKS):
        node.insert_after("\n")
    root = tree.body or tree.root
    body = root.text(deep=True, separator="", strip=False) if root is not None else ""
    lines = (" ".join(line.split()) for line in body.splitlines())
    text = "\n".join(lines)
    return f"{title_text}\n\n{text}" if title_text else text


# --- PDF ------------------------------------------------------------------------------------


def _read_pdf(path: pathlib.Path) -> str:
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            # Many PDFs carry only an owner password (print/copy restrictions) and open with "".
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # DependencyError for AES without `cryptography`, and others
                raise ParseError("invalid_file", "The PDF is encrypted.") from exc
            if not opened:
                raise ParseError("invalid_file", "The PDF is encrypted.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ParseError("invalid_file", "The PDF could not be read; it may be corrupt.") from exc
    except RecursionError as exc:
        raise ParseError("invalid_file", "The PDF could not be read; it may be corrupt.") from exc
    return "\n\n".join(page.strip() for page in pages)


# --- Office (zip) formats -------------------------------------------------------------------


def check_zip(path: pathlib.Path, kind: str) -> None:
    """Refuse a zip whose declared sizes add up to a bomb, before any XML is parsed.

    zipfile stops inflating each member at its declared size, so the declared sizes bound what
    python-docx and python-pptx can read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError("invalid_file", f"The file is not a valid {kind} document.") from exc
    if len(infos) > ZIP_MAX_ENTRIES:
        raise ParseError("invalid_file", f"The {kind} document has too many parts.")
    uncompressed = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos)
    if uncompressed > ZIP_MAX_UNCOMPRESSED or uncompressed > ZIP_MAX_RATIO * max(compressed, 1):
        raise ParseError("invalid_file", f"The {kind} document expands to too much data to read safely.")


def _read_docx(path: pathlib.Path) -> str:
    check_zip(path, ".docx")
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
        parts: list[str] = []
        # Body order, so tables stay where they were between paragraphs.
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                parts.append(Paragraph(child, document).text)
            elif tag == "tbl":
                parts.extend(_table_rows(Table(child, document)))
    except ParseError:
        raise
    except Exception as exc:  # python-docx raises a zoo of KeyError/ValueError/lxml errors
        raise ParseError("invalid_file", "The file is not a valid .docx document.") from exc
    return "\n".join(parts)


def _table_rows(table: object) -> Iterator[str]:
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or cells[-1] != text:  # merged cells repeat their text
                cells.append(text)
        yield " | ".join(cells)


def _read_pptx(path: pathlib.Path) -> str:
    check_zip(path, ".pptx")
    import pptx

    try:
        presentation = pptx.Presentation(str(path))
        parts: list[str] = []
        for number, slide in enumerate(presentation.slides, start=1):
            lines = [f"Slide {number}"]
            for shape in slide.shapes:
                lines.extend(_shape_text(shape))
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                if notes is not None and notes.text.strip():
                    lines.append("Notes: " + notes.text.strip())
            parts.append("\n".join(lines))
    except ParseError:
        raise
    except Exception as exc:  # python-pptx raises a zoo of KeyError/ValueError/lxml errors
        raise ParseError("invalid_file", "The file is not a valid .pptx document.") from exc
    return "\n\n".join(parts)


def _shape_text(shape: object) -> Iterator[str]:
    if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():  # type: ignore[attr-defined]
        yield shape.text_frame.text.strip()  # type: ignore[attr-defined]
    if getattr(shape, "has_table", False):
        yield from _table_rows(shape.table)  # type: ignore[attr-defined]
    for child in getattr(shape, "shapes", ()):  # group shapes
        yield from _shape_text(child)
