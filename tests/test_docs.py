# Copyright (c) mmbnn contributors. All rights reserved.
"""The documentation: every relative link and image of README.md,
DEVELOPERS.md, docs/en/ and the per-method READMEs resolves (file and
``#anchor``), the README stays a short entry page, no page or config speaks
of how the project was built instead of what it does, and docs/en builds
with Sphinx without a single warning."""
import glob
import importlib.util
import os.path as osp
import re
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

DOCS = osp.join(REPO_ROOT, 'docs', 'en')
README = osp.join(REPO_ROOT, 'README.md')
MAX_README_LINES = 220

_FENCE = re.compile(r'^\s*(```|~~~)')
_HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
_CODE_SPAN = re.compile(r'(`+)(.+?)\1')
# [text](target) and ![alt](target), with an optional "title"
_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?'
                   r'(?:\s+"[^"]*")?\s*\)')
_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')


def markdown_files():
    files = [README, osp.join(REPO_ROOT, 'DEVELOPERS.md')]
    files += glob.glob(osp.join(DOCS, '**', '*.md'), recursive=True)
    files += glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'README.md'))
    return sorted(f for f in files if '_build' not in f.split(osp.sep))


def _prose_lines(path):
    """The lines outside fenced code blocks, with their line numbers."""
    in_fence = False
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if _FENCE.match(line):
                in_fence = not in_fence
                continue
            if not in_fence:
                yield number, line.rstrip('\n')


def github_slug(heading):
    """The anchor GitHub (and myst's ``heading_anchors``) gives a heading."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = re.sub(r'<[^>]+>', '', text)
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    seen, result = {}, set()
    for _, line in _prose_lines(path):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f'{slug}-{count}')
    return result


def links(path):
    for number, line in _prose_lines(path):
        line = _CODE_SPAN.sub('', line)
        for match in _LINK.finditer(line):
            yield number, match.group(1)


def test_slug_follows_github():
    assert github_slug('The binary conv: `BinaryConv`') == \
        'the-binary-conv-binaryconv'
    assert github_slug('Checkpoints and torch >= 2.6') == \
        'checkpoints-and-torch--26'
    assert github_slug('Deploy checkpoints: size') == \
        'deploy-checkpoints-size'
    assert github_slug('`SURGEHook`') == 'surgehook'


def test_every_page_is_checked():
    files = [osp.relpath(f, REPO_ROOT) for f in markdown_files()]
    for page in ('README.md', 'DEVELOPERS.md', 'docs/en/index.md',
                 'docs/en/get_started.md', 'docs/en/results.md',
                 'docs/en/notes/tests.md'):
        assert page in files


@pytest.mark.parametrize(
    'path', markdown_files(), ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_relative_links_resolve(path):
    broken = []
    for number, target in links(path):
        if _SCHEME.match(target):  # http(s), mailto, ...
            continue
        file_part, _, anchor = target.partition('#')
        where = f'{osp.relpath(path, REPO_ROOT)}:{number}: {target}'
        if file_part:
            resolved = osp.normpath(osp.join(osp.dirname(path), file_part))
            if not osp.exists(resolved):
                broken.append(f'{where} (no such file)')
                continue
        else:
            resolved = path
        if anchor:
            if not resolved.endswith('.md'):
                broken.append(f'{where} (anchor into a non-Markdown file)')
            elif anchor not in anchors(resolved):
                broken.append(f'{where} (no heading with this anchor)')
    assert not broken, 'broken links:\n' + '\n'.join(broken)


def test_readme_is_short_and_states_the_ci_command():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    assert len(text.splitlines()) <= MAX_README_LINES
    # .ci/run runs the README's test command
    assert 'make test' in text
    with open(osp.join(REPO_ROOT, '.ci', 'run')) as f:
        assert re.search(r'^make test$', f.read(), re.M)


def test_docs_speak_of_the_repository_only():
    for path in markdown_files():
        with open(path, encoding='utf-8') as f:
            assert '../shared' not in f.read(), path


# Wording that tells the history of the work (fix logs, goals set from
# outside, the machine a run had) instead of what mmbnn does and measured.
HISTORY_PHRASES = [
    r'\b(this|that|same|one|slower|earlier|a) session\b',
    r'\bdeadline\b',
    r'\(target\b',
    r'\btargets?:',
    r'\btargets? (set|met)\b',
    r'\bnot met\b',
    r'\b(earlier|final|previous) builds?\b',
    r'\bearlier form of\b',
    r'\bfix log\b',
    r'\bwas fixed\b',
    r'\bfixed:',
    r'\bbefore [^.]{0,60}\bexisted\b',
    r'\bfound on the way\b',
]


def history_findings(text):
    """``(phrase, excerpt)`` of each history phrase in ``text``."""
    found = []
    for phrase in HISTORY_PHRASES:
        for match in re.finditer(phrase, text, re.I):
            start = max(0, match.start() - 30)
            found.append((phrase, text[start:match.end() + 30]))
    return found


def test_history_phrases_are_caught():
    assert history_findings('SURGE 1.3x (target <= 1.4x)')
    assert history_findings('a gap of 0.244 (target: >= 0.10)')
    assert history_findings('measured in the same session')
    assert history_findings('before the RoIAlign kernel existed')
    assert not history_findings(
        'mmdet assigns each anchor a target box')


def test_docs_and_configs_tell_no_history():
    files = markdown_files() + glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    findings = []
    for path in files:
        with open(path, encoding='utf-8') as f:
            for phrase, excerpt in history_findings(f.read()):
                findings.append(f'{osp.relpath(path, REPO_ROOT)}: {phrase}: '
                                f'...{excerpt}...')
    assert not findings, 'history wording:\n' + '\n'.join(findings)


_MISSING = [
    name for name in ('sphinx', 'myst_parser', 'furo')
    if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(
    bool(_MISSING),
    reason=f'{", ".join(_MISSING)} not installed '
    '(pip install -r requirements/docs.txt)')
def test_sphinx_build_has_no_warning(tmp_path):
    out = tmp_path / 'html'
    cmd = [
        sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b',
        'html', '-d',
        str(tmp_path / 'doctrees'), DOCS,
        str(out)
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / 'index.html').is_file()
    assert (out / 'advanced_guides' / 'kernel.html').is_file()
