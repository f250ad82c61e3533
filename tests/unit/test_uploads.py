"""Files added from the chat window: names that cannot escape the folder, limits by name, and
nothing lost when one file of an upload is refused."""

from __future__ import annotations

import pytest

from qa.core.errors import DocumentError
from qa.documents import add_documents, iter_files, remove_document, safe_name


@pytest.mark.parametrize(
    "given, safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/abs/path/报告.pdf", "报告.pdf"),
        ("..\\..\\win.docx", "win.docx"),
        (".hidden.txt", "hidden.txt"),
        ("a\u202etxt.exe.md", "atxt.exe.md"),  # a right-to-left override would disguise it
        ("cafe\u0301.txt", "café.txt"),  # one spelling (NFC)
        ("bad:name?.html", "bad_name_.html"),
    ],
)
def test_safe_names_stay_inside_the_folder(given, safe):
    assert safe_name(given) == safe


@pytest.mark.parametrize("given", ["..", "/", "", "noext", "\u202e"])
def test_unusable_names_are_refused(given):
    with pytest.raises(DocumentError):
        safe_name(given)


def test_add_documents_refuses_by_name_and_keeps_the_rest(tmp_path):
    docs, incoming = tmp_path / "docs", tmp_path / "in"
    docs.mkdir()
    incoming.mkdir()
    files = []
    for name, size in [("a.txt", 10), ("big.txt", 5000), ("sheet.xlsx", 10), ("b.md", 10),
                       ("c.txt", 10)]:
        (incoming / name).write_bytes(b"x" * size)
        files.append((name, incoming / name))
    out = add_documents(docs, files, max_mb=0.001, max_files=4)
    assert out.added == ["a.txt", "b.md"]
    reasons = dict(out.refused)
    assert "over the 0.001 MB limit" in reasons["big.txt"]
    assert "does not read .xlsx" in reasons["sheet.xlsx"]
    assert "more than 4 files" in reasons["c.txt"]
    assert sorted(p.name for p in iter_files(docs)) == ["a.txt", "b.md"]
    assert not [p for p in docs.iterdir() if p.name.startswith(".upload-")]


def test_remove_document_only_removes_a_document_of_the_folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("甲。", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("乙。", encoding="utf-8")
    with pytest.raises(DocumentError):
        remove_document(docs, "../outside.txt")
    assert (tmp_path / "outside.txt").exists()
    remove_document(docs, "a.txt")
    assert not (docs / "a.txt").exists()
