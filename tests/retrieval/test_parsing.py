from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.retrieval.parsing import ParseError, extract_text
from tests.retrieval.documents import encrypted_pdf_bytes, pdf_bytes, write_docx, write_pptx, write_zip_bomb


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _error(path: Path, filename: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        extract_text(path, filename)
    return info.value


def test_it_reads_plain_text_and_code(tmp_path: Path) -> None:
    path = _write(tmp_path, "blob", "def handler():\n    return 'retry with backoff'\n")
    assert "retry with backoff" in extract_text(path, "worker.py")
    assert "retry with backoff" in extract_text(path, "NOTES.MD")


def test_it_collapses_blank_runs_and_strips(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.txt", "\n\n one\n\n\n\n\ntwo \n\n")
    assert extract_text(path, "a.txt") == "one\n\ntwo"


def test_it_detects_legacy_encodings(tmp_path: Path) -> None:
    text = "Le café était délicieux et la crème brûlée aussi. Où est la bibliothèque? " * 20
    path = _write(tmp_path, "fr.txt", text.encode("cp1252"))
    assert "crème brûlée" in extract_text(path, "fr.txt")


def test_it_honours_a_utf16_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "u.txt", "naïve résumé".encode("utf-16"))
    assert extract_text(path, "u.txt") == "naïve résumé"


def test_it_reads_html_without_scripts_or_styles(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Guide</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Install</h1><p>Run the installer.</p><p>Then reboot.</p>"
        "</body></html>"
    )
    text = extract_text(_write(tmp_path, "g.html", html), "g.html")
    assert text.startswith("Guide")
    assert "Install" in text and "Run the installer." in text
    assert "Run the installer.\nThen reboot." in text
    assert "secret" not in text and "color" not in text


def test_it_pretty_prints_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.json", json.dumps({"name": "widget", "tags": ["a", "b"]}))
    text = extract_text(path, "d.json")
    assert '"name": "widget"' in text and "\n" in text


def test_it_reads_json_lines_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.json", '{"a": 1}\n{"a": 2}\n')
    assert extract_text(path, "d.json") == '{"a": 1}\n{"a": 2}'


def test_it_reads_pdf_pages(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.pdf", pdf_bytes(["First page about llamas", "Second page about alpacas"]))
    text = extract_text(path, "report.pdf")
    assert "llamas" in text and "alpacas" in text
    assert text.index("llamas") < text.index("alpacas")


def test_it_refuses_an_encrypted_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.pdf", encrypted_pdf_bytes("top secret"))
    error = _error(path, "e.pdf")
    assert (error.code, error.message) == ("invalid_file", "The PDF is encrypted.")


def test_it_refuses_a_corrupt_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage\n")
    assert _error(path, "c.pdf").code == "invalid_file"


def test_it_refuses_a_pdf_without_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "blank.pdf", pdf_bytes([""]))
    error = _error(path, "blank.pdf")
    assert (error.code, error.message) == ("invalid_file", "No text could be extracted from the file.")


def test_it_reads_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "d.docx",
        ["Quarterly report", "Revenue grew."],
        table=[["Region", "Sales"], ["North", "42"]],
    )
    text = extract_text(path, "d.docx")
    assert "Quarterly report" in text
    assert "Region | Sales" in text and "North | 42" in text
    assert text.index("Revenue grew.") < text.index("North | 42") < text.index("The end.")


def test_it_reads_pptx_slides_and_notes(tmp_path: Path) -> None:
    path = write_pptx(
        tmp_path / "s.pptx", [("Roadmap", "Ship search"), ("Risks", "Zip bombs")], notes="Say hi"
    )
    text = extract_text(path, "s.pptx")
    assert "Slide 1\nRoadmap\nShip search" in text
    assert "Slide 2\nRisks\nZip bombs" in text
    assert "Notes: Say hi" in text


def test_it_refuses_a_zip_bomb_docx(tmp_path: Path) -> None:
    path = write_zip_bomb(tmp_path / "bomb.docx")
    error = _error(path, "bomb.docx")
    assert error.code == "invalid_file"
    assert "too much data" in error.message


def test_it_refuses_a_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.docx", b"this is not a zip")
    assert _error(path, "x.docx").code == "invalid_file"


def test_it_refuses_a_zip_that_is_not_a_presentation(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "x.pptx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert _error(path, "x.pptx").code == "invalid_file"


def test_it_refuses_unknown_types(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.exe", b"MZ\x90\x00")
    error = _error(path, "setup.exe")
    assert (error.code, error.message) == ("unsupported_file", "Files of type .exe are not supported.")


def test_it_refuses_legacy_doc(tmp_path: Path) -> None:
    assert _error(_write(tmp_path, "a.doc", b"\xd0\xcf\x11\xe0"), "a.doc").code == "unsupported_file"


def test_it_sniffs_files_without_an_extension(tmp_path: Path) -> None:
    assert extract_text(_write(tmp_path, "README", "plain words"), "README") == "plain words"
    assert "llamas" in extract_text(_write(tmp_path, "scan", pdf_bytes(["llamas"])), "scan")
    assert _error(_write(tmp_path, "bin", b"\x00\x01\x02"), "bin").code == "unsupported_file"


def test_it_refuses_empty_text(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "e.txt", " \n\t\n"), "e.txt")
    assert (error.code, error.message) == ("invalid_file", "No text could be extracted from the file.")


def test_it_refuses_files_over_the_token_limit(tmp_path: Path, settings) -> None:
    settings.RETRIEVAL_MAX_FILE_TOKENS = 50
    path = _write(tmp_path, "big.txt", "word " * 100)
    error = _error(path, "big.txt")
    assert error.code == "invalid_file" and "50 tokens" in error.message
    # Under the limit in tokens although longer in bytes: accepted.
    assert extract_text(_write(tmp_path, "ok.txt", "x" * 120), "ok.txt")


def test_it_removes_nul_bytes(tmp_path: Path) -> None:
    assert extract_text(_write(tmp_path, "n.txt", "a\x00b"), "n.txt") == "ab"
