"""Request data never becomes template source: every template-source argument is a literal.

Crispy's ``HTML()`` and the value of its ``Hidden``/``Submit``/``Button``/``Reset`` inputs are
compiled as Django templates with the page's context, like ``Template()`` and
``Engine.from_string()``; ``mark_safe``, ``SafeString`` and the format of ``format_html`` switch
escaping off for what they are given. Built from anything but a literal, any of them can turn a
patient's answer into code (issue 13, finding 1). This check reads the app's source with ``ast``
and reports each such call whose argument is not a string literal: a literal, a concatenation of
literals, a module-level constant bound to one, or a literal passed through ``gettext`` (its
translations are the app's own files, not request data).

Run ``python -m tests.security.template_sources [path ...]`` (default: the ``twitch_intake``
package): it prints ``file:line: ...`` for each finding and exits 1 if there is any (2 if a
path does not exist).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "twitch_intake"

#: Callables whose argument at this position (or keyword) is compiled, or trusted, as markup.
SOURCES: dict[str, tuple[int, str]] = {
    "HTML": (0, "html"),
    "Template": (0, "template_string"),
    "from_string": (0, "template_code"),
    "mark_safe": (0, "s"),
    "SafeString": (0, "seq"),
    "format_html": (0, "format_string"),
    "format_html_join": (1, "format_string"),
    # crispy's BaseInput subclasses: (name, value); the value is rendered as a template.
    "Hidden": (1, "value"),
    "Submit": (1, "value"),
    "Button": (1, "value"),
    "Reset": (1, "value"),
}
#: Translation functions: their literal argument is the app's own text, not request data.
GETTEXT = frozenset(
    {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    call: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.call}() is given a template or markup source that is "
            "not a string literal; pass request data as context or a form field instead"
        )


def _callee(node: ast.Call, aliases: dict[str, str]) -> str | None:
    if isinstance(node.func, ast.Name):
        return aliases.get(node.func.id, node.func.id)
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _is_literal(node: ast.expr, constants: dict[str, ast.expr], depth: int = 0) -> bool:
    if depth > 20:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal(node.left, constants, depth + 1) and _is_literal(
            node.right, constants, depth + 1
        )
    if isinstance(node, ast.Name) and node.id in constants:
        return _is_literal(constants[node.id], constants, depth + 1)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT:
        return bool(node.args) and all(_is_literal(a, constants, depth + 1) for a in node.args)
    return False


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Names bound once, at module level, and nowhere else (no parameter, loop or import
    shadows them): only those can be trusted to hold the literal they were given."""
    bindings = Counter(
        name
        for node in ast.walk(tree)
        for name in (
            [node.id]
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
            else [node.arg]
            if isinstance(node, ast.arg)
            else [a.asname or a.name for a in node.names]
            if isinstance(node, ast.Import | ast.ImportFrom)
            else []
        )
    )
    constants: dict[str, ast.expr] = {}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            constants[statement.targets[0].id] = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.value is not None
        ):
            constants[statement.target.id] = statement.value
    return {name: value for name, value in constants.items() if bindings[name] == 1}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """``from crispy_forms.layout import HTML as Raw``: calls to ``Raw`` are calls to ``HTML``."""
    return {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }


def check_source(source: str, path: Path) -> list[Finding]:
    tree = ast.parse(source, filename=str(path))
    constants = _module_constants(tree)
    aliases = _aliases(tree)
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node, aliases)
        if name not in SOURCES:
            continue
        position, keyword = SOURCES[name]
        argument: ast.expr | None = None
        if len(node.args) > position:
            argument = node.args[position]
        else:
            argument = next((k.value for k in node.keywords if k.arg == keyword), None)
        starred = any(isinstance(a, ast.Starred) for a in node.args[: position + 1]) or any(
            k.arg is None for k in node.keywords
        )
        if starred or (argument is not None and not _is_literal(argument, constants)):
            findings.append(Finding(path, node.lineno, name))
    return findings


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def find_problems(paths: Iterable[Path] = (APP,)) -> list[Finding]:
    findings: list[Finding] = []
    for path in python_files(paths):
        findings.extend(check_source(path.read_text(encoding="utf-8"), path))
    return findings


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or [APP]
    missing = [p for p in paths if not p.exists()]
    if missing:  # a mistyped path in CI must not pass as "nothing found"
        print(f"no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    findings = find_problems(paths)
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
