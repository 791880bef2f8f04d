# Copyright (c) mmbnn contributors. All rights reserved.
"""No import cycle inside the ``mmbnn`` package.

The graph is built from the module-level ``import`` statements of every
module (read with ``ast``, nothing is imported): an edge ``a -> b`` for each
``mmbnn`` module ``b`` that importing ``a`` runs, i.e. the imported module
and those of its parent packages that are not already parents of ``a``
(importing ``mmbnn.x.y`` from ``mmbnn.z`` runs ``mmbnn/x/__init__.py``).
Imports inside functions and classes run later and are left out.
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Optional, Set

from .conftest import REPO_ROOT

PACKAGE = 'mmbnn'


def package_modules(root: str, package: str = PACKAGE) -> Dict[str, str]:
    """``{dotted module name: file}`` of every ``.py`` file in ``package``
    (a package is named by its ``__init__.py``)."""
    modules = {}
    base = osp.join(root, package)
    for folder, _, files in os.walk(base):
        rel = osp.relpath(folder, root).split(os.sep)
        for name in files:
            if not name.endswith('.py'):
                continue
            parts = rel if name == '__init__.py' else rel + [name[:-3]]
            modules['.'.join(parts)] = osp.join(folder, name)
    return modules


def _module_level_imports(tree: ast.Module):
    """Import nodes run when the module is imported (including those under
    module-level ``if`` / ``try`` / ``with``), not those in functions or
    classes."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ('body', 'orelse', 'finalbody', 'handlers'):
                for child in getattr(node, field, []):
                    stack.extend(child.body if isinstance(
                        child, ast.ExceptHandler) else [child])


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name of a (possibly relative) ``from`` import."""
    if not node.level:
        return node.module or ''
    parts = module.split('.')
    if not is_package:
        parts = parts[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return '.'.join(parts + ([node.module] if node.module else []))


def import_graph(modules: Dict[str, str]) -> Dict[str, Set[str]]:
    """``{module: modules its import runs}``, restricted to ``modules``."""
    graph = {}
    for module, path in modules.items():
        is_package = path.endswith('__init__.py')
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
        targets = set()
        for node in _module_level_imports(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = _resolve(module, is_package, node)
            targets.add(base)
            # ``from pkg import sub`` imports the submodule ``pkg.sub``
            targets.update(f'{base}.{alias.name}' for alias in node.names)
        own = module.split('.')
        own_parents = {'.'.join(own[:i]) for i in range(1, len(own) + 1)}
        edges = set()
        for target in targets:
            parts = target.split('.')
            for i in range(1, len(parts) + 1):
                name = '.'.join(parts[:i])
                if name in modules and name not in own_parents:
                    edges.add(name)
        graph[module] = edges
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for succ in sorted(graph.get(node, ())):
            if state.get(succ) == 1:
                return path[path.index(succ):] + [succ]
            if succ not in state:
                cycle = visit(succ)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _write(root, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_mmbnn_has_no_import_cycle():
    modules = package_modules(REPO_ROOT)
    assert 'mmbnn.deploy.export' in modules and 'mmbnn' in modules
    graph = import_graph(modules)
    cycle = find_cycle(graph)
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_graph_finds_a_cycle_through_a_package_init(tmp_path):
    """``a.x`` imports ``b.y``, whose package ``b`` imports ``a``: a cycle
    through ``b/__init__.py``, found although no module imports ``b``
    itself; a function-level import and a package's own parents are not
    edges."""
    _write(tmp_path, {
        'pkg/__init__.py': 'from . import a\n',
        'pkg/a/__init__.py': 'from .x import f\n',
        'pkg/a/x.py': ('from . import helper\n'
                       'from ..b.y import g\n'
                       'def f():\n    from ..c import h\n'),
        'pkg/a/helper.py': 'import os\n',
        'pkg/b/__init__.py': 'from ..a import f\n',
        'pkg/b/y.py': 'g = 1\n',
        'pkg/c.py': 'from .a import f\n',
    })
    graph = import_graph(package_modules(str(tmp_path), 'pkg'))
    assert graph['pkg.a.x'] == {'pkg.a.helper', 'pkg.b', 'pkg.b.y'}
    assert graph['pkg.c'] == {'pkg.a'}
    cycle = find_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert {'pkg.a', 'pkg.a.x', 'pkg.b'} <= set(cycle)


def test_graph_without_cycle(tmp_path):
    _write(tmp_path, {
        'pkg/__init__.py': 'from .low import f\nfrom .high import g\n',
        'pkg/low.py': 'import os\nf = 1\n',
        'pkg/high.py': 'try:\n    from .low import f\nexcept ImportError:'
                       '\n    f = None\ng = f\n',
    })
    graph = import_graph(package_modules(str(tmp_path), 'pkg'))
    assert graph['pkg.high'] == {'pkg.low'}
    assert find_cycle(graph) is None
