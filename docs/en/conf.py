# Copyright (c) mmbnn contributors. All rights reserved.
"""Sphinx configuration of mmbnn's English documentation.

Build with ``make docs`` (``sphinx-build -W docs/en docs/en/_build/html``).
The pages are Markdown (myst-parser) and stay readable on GitHub: links to
repository files outside ``docs/en`` are relative paths, which
``_repository_links`` turns into downloadable files for the HTML build.
"""
import os
import os.path as osp
import re

DOCS_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(DOCS_DIR))


def _read_version():
    scope = {}
    with open(osp.join(REPO_ROOT, 'mmbnn', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


# -- Project information -----------------------------------------------------
project = 'mmbnn'
copyright = '2026, mmbnn contributors'
author = 'mmbnn contributors'
version = release = _read_version()

# -- General configuration ---------------------------------------------------
extensions = ['myst_parser']
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
language = 'en'

# GitHub-style anchors (``#some-heading``) for headings down to level 4, so
# that the same links work on GitHub and in the HTML build.
myst_heading_anchors = 4
myst_enable_extensions = []

# -- HTML output -------------------------------------------------------------
html_theme = 'furo'
html_title = f'mmbnn {release}'
html_static_path = []
# No network access at build time: no intersphinx, no remote assets.

# A Markdown link to a repository file outside docs/en, e.g.
# [SURGE](../../../configs/surge/README.md), is not a page of this site;
# rewritten as ``path:`` it becomes a download of that file.
_LINK = re.compile(r'(?<!!)\[([^\]\n]*)\]\(([^)\s#]+)((?:#[^)\s]*)?)\)')


def _repository_links(app, docname, source):
    base = osp.dirname(osp.join(app.srcdir, docname))

    def replace(match):
        text, target, anchor = match.groups()
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # a URL or a scheme
            return match.group(0)
        path = osp.normpath(osp.join(base, target))
        if path == DOCS_DIR or path.startswith(DOCS_DIR + os.sep):
            return match.group(0)
        return f'[{text}](path:{target})'

    source[0] = _LINK.sub(replace, source[0])


def setup(app):
    app.connect('source-read', _repository_links)
