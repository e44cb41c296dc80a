"""The README and the docs pages tell the truth: their examples run, their links resolve.

- Every ```` ```pycon ```` block of ``README.md`` and ``docs/**/*.md`` is a doctest: the blocks
  of one file run in order, in one namespace, as a reader would type them, with ``ELLIPSIS``
  (``...`` stands for a time) and ``NORMALIZE_WHITESPACE`` on.
- Every ```` ```python ```` block compiles (those need a GPU, a cluster or an editor, so they
  are not run).
- Every relative link and image points at a file of the checkout.
- The README's ``mlp-xp`` sample is lines of the saved run it is trimmed from.
- ``docs/tutorial.ipynb`` is stored without outputs and runs top to bottom (nbclient).

The Sphinx build itself (``python -m sphinx -W --keep-going -b html docs docs/_build/html``)
is not run here: it needs the ``docs`` extra and a minute.
"""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"
TUTORIAL = DOCS / "tutorial.ipynb"

README_MAX_BYTES = 8192
FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    if not README.is_file():
        raise FileNotFoundError(f"{README} is missing: the docs tests read it next to tests/")
    pages = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)
    return [README, *pages]


def blocks(path: Path) -> list[tuple[str, int, str]]:
    """The fenced code blocks of a Markdown file: (info string, line number of its first line, text)."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        i += 1
        if not m:
            continue
        fence, info, indent = m["fence"], m["info"].strip(), len(m["indent"])
        first, body = i + 1, []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        found.append((info, first, "\n".join(body) + "\n"))
        i += 1
    return found


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


FILES = markdown_files()
WITH_EXAMPLES = [p for p in FILES if any(info == "pycon" for info, _, _ in blocks(p))]


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}: move it to docs/"


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=ids(WITH_EXAMPLES))
def test_pycon_examples_run(path: Path):
    pycon = [(line, text) for info, line, text in blocks(path) if info == "pycon"]
    parser = doctest.DocTestParser()
    globs: dict[str, object] = {"__name__": "__docs__"}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for line, text in pycon:
        test = parser.get_doctest(text, globs, f"{path.name}:{line}", str(path), line - 1)
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=False)
        globs = test.globs  # a DocTest runs on a copy: the next block goes on from this one
        assert result.failed == 0, f"{path.relative_to(ROOT)}, the block from line {line}:\n" + "".join(out)


@pytest.mark.parametrize("path", FILES, ids=ids(FILES))
def test_python_blocks_compile(path: Path):
    for info, line, text in blocks(path):
        if info == "python":
            compile(text, f"{path.relative_to(ROOT)}:{line}", "exec")


@pytest.mark.parametrize("path", FILES, ids=ids(FILES))
def test_relative_links_resolve(path: Path):
    text = path.read_text(encoding="utf-8")
    # not the links inside code: fenced blocks, then inline code
    text = re.sub(r"^[ ]*(`{3,}|~{3,}).*?^[ ]*\1", "", text, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"`[^`\n]+`", "", text)
    missing = []
    for m in LINK.finditer(text):
        target = m["target"].split("#", 1)[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):  # in-page anchor, URL, mailto:
            continue
        if not (path.parent / target).exists():
            missing.append(m["target"])
    assert not missing, f"{path.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_readme_has_no_section_markers():
    text = README.read_text(encoding="utf-8")
    assert "<!-- BEGIN" not in text and "<!-- END" not in text


def test_readme_mlp_xp_sample_is_from_the_saved_run():
    saved = (RESULTS / "mlp-xp_cpu.txt").read_text(encoding="utf-8").splitlines()
    samples = [text for info, _, text in blocks(README) if info == "text" and "$ mlp-xp" in text]
    assert samples, "README.md has no ```text block with a '$ mlp-xp' run"
    for line in samples[0].splitlines():
        if line.strip() and line.strip() != "...":
            assert line in saved, f"README's mlp-xp sample has a line not in the saved run: {line!r}"


def test_tutorial_is_stored_without_outputs():
    nb = json.loads(TUTORIAL.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                "docs/tutorial.ipynb is stored with outputs: clear them (the docs build runs it)"
            )


def test_tutorial_runs(monkeypatch):
    # older jupyter_core releases warn (a DeprecationWarning, an error here) unless told this
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # the kernel "python3" of this environment (its Python runs the notebook), not a user's
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")
    nbformat = pytest.importorskip("nbformat", reason="the docs tests need nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the docs tests need nbclient")
    pytest.importorskip("ipykernel", reason="the docs tests need ipykernel")
    nb = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(DOCS)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
