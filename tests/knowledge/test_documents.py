"""Every kind of file a knowledge base takes gives its text; a file that cannot be read
fails with a reason that says what to do."""

from __future__ import annotations

import io
import json

import pytest

from modelmint.knowledge.documents import DocumentError, document_text


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII) in Helvetica, built by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()


def word_document() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("退货政策：购买后三十天内可以退货。")
    document.add_paragraph("Returns are accepted within thirty days.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "运费", "免费"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_plain_text_in_utf8_and_gb18030():
    assert document_text("a.txt", "人工智能".encode()) == "人工智能"
    assert document_text("b.md", "# 标题\n正文".encode("gb18030")) == "# 标题\n正文"


def test_html_loses_tags_scripts_and_styles():
    page = (b"<html><head><title>t</title><style>p{}</style></head><body>"
            b"<script>var secret=1</script><h1>Refunds</h1><p>Within 30&nbsp;days &amp; "
            b"free.</p><p>\xe9\x80\x80\xe6\xac\xbe</p></body></html>")  # fmt: skip
    text = document_text("policy.html", page)
    assert text == "Refunds\n\nWithin 30 days & free.\n\n退款"


def test_pdf_pages():
    assert "Hello PDF world" in document_text("scan.pdf", minimal_pdf("Hello PDF world"))


def test_a_pdf_is_read_as_one_whatever_its_name():
    assert "Named wrong" in document_text("notes.txt", minimal_pdf("Named wrong"))


def test_word_paragraphs_and_tables():
    text = document_text("policy.docx", word_document())
    assert "三十天内可以退货" in text and "thirty days" in text and "运费 | 免费" in text


def test_csv_and_json_become_lines():
    assert document_text("t.csv", b"name,price\ntea,3\n\n") == "name, price\ntea, 3"
    body = json.dumps({"faq": [{"q": "运费？", "a": "免费"}]}, ensure_ascii=False).encode()
    assert document_text("f.json", body) == "faq.q: 运费？\nfaq.a: 免费"
    assert document_text("f.jsonl", b'{"a": 1}\n{"a": 2}\n') == "a: 1\n\na: 2"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("tool.exe", b"MZ", "cannot be searched"),
        ("old.docx", b"\xd0\xcf\x11\xe0", "save it as .docx"),
        ("broken.pdf", b"%PDF-1.4\nnot really", "could not be read as PDF"),
        ("empty.txt", b"  \n ", "no text"),
        ("latin.txt", b"\xff\xfe\xfa\x00\x81\xff", "save it as UTF-8"),
        ("bad.json", b"{not json", "could not be read as JSON"),
    ],
)
def test_unreadable_files_say_why(name, content, words):
    with pytest.raises(DocumentError, match=words) as caught:
        document_text(name, content)
    assert name in str(caught.value)
