"""Which code derived a projector's rows: a digest of a derive function's modules.

A projector (recorder/projector.py) stores rows that one version of its `derive` function made
of the events. `revision_of(derive)` names that version: a digest of the module defining the
function and of every `gapwatch` module it imports, directly or through another (imports under
`if TYPE_CHECKING:` excluded: they do not run; the table declarations, `SCHEMA`, too), in name
order. Each module counts by its syntax tree without docstrings, so a change of a comment, a
docstring or the layout (what `ruff format` moves) leaves it as it was, and any change of what
the code does changes it: no one has to remember to bump a number when a rule changes. The tree
is written out node by node with its fields (empty ones left out, as Python versions add fields
that default to empty), not with `ast.dump`, whose text differs between Python versions. A
re-derivation of months of facts is long, so unlike replay/revision.py's digest of source
bytes, a change that moves nothing the code does must not ask for one.

The recorder does not import replay: it digests whatever function it is handed (for the facts,
replay.facts.write_facts and the extractors it imports). A hook that only imports and calls
another on first use (the CLI's, so that `--help` stays light) names the module whose code it
runs with `@runs(module)`: its own module is the whole CLI's.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

#: the package whose modules count (third-party and standard modules do not)
PACKAGE = "gapwatch"
#: Modules that declare the store's tables, not followed: the schema has its own versions (the
#: migrations), and a projection's new column must not read as a change of how facts are
#: derived (what derive writes into each column is in its own module)
SCHEMA = frozenset({"gapwatch.recorder.tables", "gapwatch.replay.tables"})


#: the attribute `runs` sets: the module whose code a hook runs
RUNS = "__gapwatch_runs__"
F = TypeVar("F", bound=Callable[..., Any])


def runs(module: str) -> Callable[[F], F]:
    """Declare that the decorated hook runs `module`'s code (it imports it when called)."""

    def mark(fn: F) -> F:
        setattr(fn, RUNS, module)
        return fn

    return mark


def _module_of(derive: Callable[..., Any]) -> str:
    return str(getattr(derive, RUNS, None) or getattr(derive, "__module__", "") or "")


def revision_of(derive: Callable[..., Any]) -> int:
    """The revision of the code `derive` runs: the first 8 bytes of a SHA-256 over its module
    (or the one `runs` named) and the gapwatch modules that module imports, as a signed 64-bit
    integer (a BigInteger column)."""
    return module_revision(_module_of(derive))


@functools.cache
def module_revision(name: str) -> int:
    """`revision_of` for a module by name (a module with no source: its name alone)."""
    digest = hashlib.sha256()
    for module, tree in sorted(_closure(name).items()):
        digest.update(module.encode())
        digest.update(b"\0")
        digest.update(tree.encode())
        digest.update(b"\0")
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def code_text(module: str) -> str:
    """What the digest reads of one module: its tree without docstrings, as text ("" when the
    module has no source)."""
    tree = _parse(module)
    return "" if tree is None else _text(tree)


def _closure(name: str) -> dict[str, str]:
    """Each module reached from `name` through its gapwatch imports -> its tree's text."""
    seen: dict[str, str] = {}
    todo = [name]
    while todo:
        module = todo.pop()
        if module in seen or module in SCHEMA:
            continue
        tree = _parse(module)
        if tree is None:
            seen[module] = ""
            continue
        seen[module] = _text(tree)
        todo.extend(m for m in _imports(tree, module) if m not in seen)
    return seen


def _parse(module: str) -> ast.Module | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_bytes())


def _imports(tree: ast.Module, module: str) -> Iterator[str]:
    """The gapwatch modules `tree` imports anywhere but under `if TYPE_CHECKING:`."""
    package = module.rpartition(".")[0]
    for node in _running(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != PACKAGE:
                continue
            yield base
            if _is_package(base):  # `from gapwatch.replay import facts_k8s`: a module
                yield from (f"{base}.{alias.name}" for alias in node.names
                            if _is_module(f"{base}.{alias.name}"))  # fmt: skip


def _is_package(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.submodule_search_locations is not None


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _running(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` but those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node.test):
            yield from (n for child in node.orelse for n in (child, *_running(child)))
            continue
        yield node
        yield from _running(node)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _text(tree: ast.AST) -> str:
    """The tree without docstrings, written out as `Node(field=value, ...)`."""
    out: list[str] = []
    _write(tree, out)
    return "".join(out)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, ast.AST):
        out.append(type(value).__name__ + "(")
        for field in value._fields:
            inner = getattr(value, field, None)
            if field == "body" and isinstance(inner, list):
                inner = _without_docstring(value, inner)
            if inner is None or inner == []:
                continue
            out.append(field + "=")
            _write(inner, out)
            out.append(",")
        out.append(")")
    elif isinstance(value, list):
        out.append("[")
        for item in value:
            _write(item, out)
            out.append(",")
        out.append("]")
    else:
        out.append(repr(value))


def _without_docstring(node: ast.AST, body: list[Any]) -> list[Any]:
    if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return body[1:]
    return body
