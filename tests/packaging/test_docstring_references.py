"""Docstrings and comments cite only files a reader can open: files of this repository.

The standard (project brief): a docstring cites the papers (authors, arXiv id, theorem or
equation) or files in this repository, never research notes, seed file names or documents that
live outside the repository. This test reads every docstring (module, class, function) and every
comment of the ``.py`` files under the folders in ``SCOPE`` and fails with the full list of
references to files that do not exist.

What counts as a reference to a file:

* a token ending in ``.md``, ``.txt``, ``.py``, ``.bib`` or ``.cff`` (``docs/references.bib``,
  ``README.md``, ``test_lyapunov.py``);
* a path with a slash that starts at ``/``, ``./``, ``../`` or ``~/``, ends with ``/``, or whose
  first part is a top-level entry of this repository or a well-known place outside it
  (``docs/derivations``, ``shared/research``, ``/work/...``).

Slashes in mathematics and prose (``1/d``, ``forward/backward``) are not paths. URLs and
``host.tld/...`` addresses are not files of the repository and are skipped. A reference resolves
if it names an existing file or folder relative to the repository root or to the folder of the
file that contains it; a bare file name (no slash) also resolves if a file of that name exists
anywhere in the repository (``test_lyapunov.py`` inside ``tests/theory/``).
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Folders whose docstrings and comments are checked: every package of the library.
SCOPE = ["theory", "kernels", "validation", "depthcheck"]

#: Folders reported on (not asserted) by ``offending_references``; see ``main`` below.
ALL_PACKAGES = ["theory", "kernels", "validation", "depthcheck"]

EXTENSIONS = ("md", "txt", "py", "bib", "cff")
_CHARS = r"[\w.\-~/§]"
_FILE_RE = re.compile(rf"(?<![\w/.\-]){_CHARS}*\w\.(?:{'|'.join(EXTENSIONS)})(?![\w])")
_PATH_RE = re.compile(r"(?<![\w/.\-:])(?:~|\.{1,2})?/?[A-Za-z_][\w.\-]*(?:/[\w.\-]+)+/?")
_URL_RE = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+")
#: files the library itself writes into a run's output folder (``out/report.md``): names of
#: outputs, not references to documents
GENERATED = {"report.md", "superseded"}
#: system files a module reads (the kernel's interfaces), not documents
SYSTEM = ("/proc/",)
#: first path parts that are not in the repository but are clearly places on a disk
_OUTSIDE_ROOTS = {"shared", "work", "tmp", "home", "research", "seeds", "usr", "etc"}


def _is_host(first_part: str) -> bool:
    """``github.com``, ``arxiv.org``, ``doi.org``: a web address, not a file."""
    return bool(re.fullmatch(r"(?:[\w\-]+\.)+(?:com|org|net|io|edu|gov|cn|de|uk|fr|ch)",
                             first_part))


@lru_cache(maxsize=None)
def _top_level() -> frozenset:
    return frozenset(p.name for p in ROOT.iterdir() if not p.name.startswith("."))


@lru_cache(maxsize=None)
def _all_file_names() -> frozenset:
    skip = {".git", "build", "__pycache__", ".hypothesis", ".pytest_cache"}
    names = set()
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT).parts
        if any(part in skip or part.endswith(".egg-info") for part in rel):
            continue
        if p.is_file():
            names.add(p.name)
    return frozenset(names)


def texts(path: Path):
    """(line, text) of every docstring and every comment of the Python file ``path``."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                line = node.body[0].lineno if node.body else 1
                yield line, doc
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string


def candidate_references(text: str) -> list[str]:
    """The file and path references in one docstring or comment (see the module docstring)."""
    text = _URL_RE.sub(" ", text)
    found = []
    for m in _FILE_RE.finditer(text):
        tok = m.group(0).lstrip("§")
        if not _is_host(tok.split("/")[0]):
            found.append(tok)
    for m in _PATH_RE.finditer(text):
        tok = m.group(0).rstrip(".-")
        if any(tok in f or f in tok for f in found):
            continue
        parts = [p for p in tok.split("/") if p]
        if not parts or _is_host(parts[0]):
            continue
        explicit = tok.startswith(("/", "./", "../", "~/")) or tok.endswith("/")
        if explicit or parts[0] in _top_level() or parts[0] in _OUTSIDE_ROOTS:
            found.append(tok)
    return found


def resolves(ref: str, where: Path) -> bool:
    """True if ``ref``, found in the file ``where``, names something in the repository."""
    if ref.startswith(SYSTEM):
        return True
    if ref.startswith(("/", "~")):
        try:
            return Path(ref).expanduser().resolve().is_relative_to(ROOT) and \
                Path(ref).expanduser().exists()
        except (OSError, ValueError):
            return False
    rel = ref.rstrip("/")
    if rel.rpartition("/")[2] in GENERATED:
        return True
    for base in (ROOT, where.parent):
        if (base / rel).exists() and (base / rel).resolve().is_relative_to(ROOT):
            return True
    return "/" not in rel and rel in _all_file_names()


def offending_references(folders) -> list[str]:
    """``"path:line: reference"`` for every unresolved reference in the given folders."""
    bad = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in texts(path):
                for ref in candidate_references(text):
                    if not resolves(ref, path):
                        bad.append(f"{path.relative_to(ROOT)}:{line}: {ref}")
    return bad


# ------------------------------------------------------------------------------------ tests
def test_scope_references_exist():
    bad = offending_references(SCOPE)
    assert not bad, ("docstrings/comments cite files that do not exist in this repository:\n  "
                     + "\n  ".join(bad))


def test_detector_flags_missing_files_and_ignores_maths():
    """The scanner must be able to fail: it finds the kinds of reference the brief forbids."""
    text = ("see bn_orthogonal.md §5, rank_lnn_lcw.md §A.6, seed 001_d5049fc1e527e58d.txt, "
            "ARCHITECTURE.md, shared/research/notes and docs/derivations/; "
            "maths 1/d, (d+2)/d, forward/backward, float32/float64 and "
            "https://arxiv.org/abs/2310.02012, github.com/polyquantique/haarpy/orthogonal.py")
    refs = candidate_references(text)
    assert refs == ["bn_orthogonal.md", "rank_lnn_lcw.md", "001_d5049fc1e527e58d.txt",
                    "ARCHITECTURE.md", "shared/research/notes", "docs/derivations/"], refs
    here = Path(__file__)
    assert not resolves("bn_orthogonal.md", here)
    assert not resolves("ARCHITECTURE.md", here)
    assert not resolves("shared/research/notes", here)
    assert resolves("README.md", here)
    assert resolves("out/report.md", here)          # an output the runner writes
    assert resolves("tests/packaging/test_docstring_references.py", here)
    assert resolves("test_docstring_references.py", here)


def test_texts_reads_docstrings_and_comments(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text('"""module doc missing.md"""\n# comment other.txt\n'
                   'def f():\n    """function doc docs/x.md"""\n    s = "not/a/docstring.md"\n')
    refs = sorted(r for _, t in texts(mod) for r in candidate_references(t))
    assert refs == ["docs/x.md", "missing.md", "other.txt"]


if __name__ == "__main__":  # python tests/packaging/test_docstring_references.py: counts per folder
    for folder in ALL_PACKAGES:
        found = offending_references([folder])
        print(f"{folder}: {len(found)} reference(s) to missing files")
        for item in found:
            print("   ", item)
