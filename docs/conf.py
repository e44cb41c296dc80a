"""Sphinx configuration of the mlp_xp docs (MyST pages, the tutorial notebook, numpydoc API).

Build, strict (a warning fails the build):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Needs the ``docs`` extra (``pip install -e '.[docs]'``). The tutorial notebook is executed
on every build, on the kernel ``python3`` of the environment that runs Sphinx.

Settings, and one hook connected in ``setup``: nothing runs at import, so pytest's
``--doctest-modules`` may import this file and find nothing to do.
"""

from importlib.metadata import version as _version

project = "mlp_xp"
author = "the mlp_xp developers"
copyright = "the mlp_xp developers"
release = _version("mlp_xp")
version = release

extensions = [
    "myst_nb",  # Markdown pages (MyST) and the executed notebook
    "numpydoc",  # the docstrings' Parameters / Returns / Examples sections
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# --- MyST and myst-nb ------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # links like gradcheck.md#fast-mode
nb_execution_mode = "force"  # run the tutorial on every build: its outputs are never stored
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_timeout = 300

# --- API reference ---------------------------------------------------------------------
autosummary_generate = False  # tables only; the entries are written out on the API pages
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- HTML --------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mlp_xp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []


def _module_sections_as_rubrics(app, what, name, obj, options, lines):
    """numpydoc leaves module docstrings as they are: make their ``Examples`` (and other
    underlined headings) rubrics, as numpydoc does for functions, rather than sections,
    whose labels would clash from one module's page to the next."""
    if what != "module":
        return
    out, i = [], 0
    while i < len(lines):
        title, rule = lines[i].strip(), lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title and rule and set(rule) == {"-"} and len(rule) >= len(title):
            out += [f".. rubric:: {title}", ""]
            i += 2
        else:
            out.append(lines[i])
            i += 1
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _module_sections_as_rubrics)
