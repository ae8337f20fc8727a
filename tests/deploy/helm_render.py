"""A small renderer for the Go-template subset that deploy/helm/aima uses, so the chart can be
rendered and schema-checked offline, without the ``helm`` binary (not installable from the
registries this project uses).

Faithful to Helm where the chart depends on it: ``{{-``/``-}}`` whitespace trimming, ``define``
/ ``include``, ``if``/``else if``/``else``, ``range`` (maps in sorted key order) and ``with``
with their own ``.``, ``$`` as the root, pipelines (the piped value is the last argument),
Go truthiness (false, 0, nil, empty string/map/list), values numbers printed as Go prints
float64 (``1e+06`` and up in exponent form), ``toYaml`` without its trailing newline (the same
YAML data; PyYAML may pick another quoting style than Go's yaml), and
``required`` failing the render with its message. Anything outside the subset (an unknown
function, a map printed into a manifest, a field of nil) raises ``TemplateError`` instead of
rendering something Helm would not.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    """The chart uses something this renderer does not support, or a render failed."""


# ----------------------------------------------------------------------------- lexing
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<decl>:=)
      | (?P<punct>[()|,])
      | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
      | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    src = src.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot read template action {src!r} at {src[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    return out


# ----------------------------------------------------------------------------- parse tree
@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    pipe: list[tuple[str, str]]


@dataclass
class _If:
    branches: list[tuple[list[tuple[str, str]], list[Any]]]
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class _Range:
    variables: list[str]
    pipe: list[tuple[str, str]]
    body: list[Any]
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class _With:
    pipe: list[tuple[str, str]]
    body: list[Any]
    otherwise: list[Any] = field(default_factory=list)


def _lex(source: str) -> list[Any]:
    """Text and actions, with Helm's trimming applied to the text around ``{{-`` / ``-}}``."""
    items: list[Any] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        items.append(_Text(text))
        body = m.group(2).strip()
        trim_next = bool(m.group(3))
        if not (body.startswith("/*") and body.endswith("*/")):
            items.append(("action", body))
        pos = m.end()
    tail = source[pos:]
    items.append(_Text(tail.lstrip(" \t\r\n") if trim_next else tail))
    return items


def _parse(items: list[Any], defines: dict[str, list[Any]]) -> list[Any]:
    stream = iter(items)

    def block(stop: tuple[str, ...]) -> tuple[list[Any], str, list[tuple[str, str]]]:
        nodes: list[Any] = []
        for item in stream:
            if isinstance(item, _Text):
                if item.text:
                    nodes.append(item)
                continue
            toks = _tokens(item[1])
            head = toks[0][1] if toks and toks[0][0] == "ident" else ""
            if head in stop:
                return nodes, head, toks[1:]
            if head == "if":
                nodes.append(parse_if(toks[1:]))
            elif head == "range":
                body, end, _ = block(("end", "else"))
                rng = _Range(*split_decl(toks[1:]), body)
                if end == "else":
                    rng.otherwise, _, _ = block(("end",))
                nodes.append(rng)
            elif head == "with":
                body, end, _ = block(("end", "else"))
                node = _With(toks[1:], body)
                if end == "else":
                    node.otherwise, _, _ = block(("end",))
                nodes.append(node)
            elif head == "define":
                name = json.loads(toks[1][1])
                defines[name], _, _ = block(("end",))
            elif head in ("template", "block", "end", "else", "break", "continue"):
                raise TemplateError(f"unsupported or misplaced {{{{ {item[1]} }}}}")
            else:
                nodes.append(_Action(toks))
        if stop:
            raise TemplateError(f"missing {{{{ end }}}} (expected one of {stop})")
        return nodes, "", []

    def parse_if(cond: list[tuple[str, str]]) -> _If:
        node = _If([])
        while True:
            body, end, rest = block(("end", "else"))
            node.branches.append((cond, body))
            if end == "end":
                return node
            if rest and rest[0] == ("ident", "if"):
                cond = rest[1:]
                continue
            node.otherwise, _, _ = block(("end",))
            return node

    def split_decl(toks: list[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
        if ("decl", ":=") not in toks:
            return [], toks
        at = toks.index(("decl", ":="))
        names = [v for k, v in toks[:at] if k == "var"]
        return names, toks[at + 1 :]

    nodes, _, _ = block(())
    return nodes


# ----------------------------------------------------------------------------- values
def go_str(value: Any) -> str:
    """How ``{{ value }}`` prints: YAML numbers are float64 in Helm (1e+06 and up: exponent)."""
    if value is None:
        return ""  # Helm replaces "<no value>" with ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if math.isfinite(number) and number != 0:
            exponent = math.floor(math.log10(abs(number)))
            if exponent < -4 or exponent >= 21 or (number.is_integer() and exponent >= 6):
                for digits in range(17):
                    text = f"{number:.{digits}e}"
                    if float(text) == number:
                        return text
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):
        return value
    raise TemplateError(f"a {type(value).__name__} printed into a manifest: {value!r}")


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float | str | list | dict):
        return bool(value)
    return True


def to_yaml(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=True)).rstrip("\n")


def _indent(width: int, text: str) -> str:
    pad = " " * int(width)
    return pad + text.replace("\n", "\n" + pad)


def _required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise TemplateError(f"execution error: {message}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        value = next(values)
        return json.dumps(go_str(value)) if m.group(0) == "%q" else go_str(value)

    return re.sub(r"%[svdq%]", sub, fmt)


def _and(*args: Any) -> Any:
    for a in args:
        if not truthy(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truthy(a):
            return a
    return args[-1]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toYaml": to_yaml,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "quote": lambda *xs: " ".join(json.dumps(go_str(x)) for x in xs if x is not None),
    "default": lambda d, *v: v[0] if v and truthy(v[0]) else d,
    "required": _required,
    "printf": _printf,
    "trunc": lambda n, s: s[: int(n)],
    "trimSuffix": lambda suffix, s: s[: -len(suffix)] if suffix and s.endswith(suffix) else s,
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "not": lambda a: not truthy(a),
    "and": _and,
    "or": _or,
}


# ----------------------------------------------------------------------------- evaluation
class _Scope:
    def __init__(self, renderer: Renderer, dot: Any, root: Any, variables: dict[str, Any]):
        self.r, self.dot, self.root, self.vars = renderer, dot, root, variables

    def child(self, dot: Any, **variables: Any) -> _Scope:
        return _Scope(self.r, dot, self.root, {**self.vars, **variables})


def _field(value: Any, path: str, where: str) -> Any:
    for name in [p for p in path.split(".") if p]:
        if value is None:
            raise TemplateError(f"nil pointer evaluating {where}: no {name!r} in nil")
        if not isinstance(value, dict):
            raise TemplateError(f"{where}: cannot read field {name!r} of {value!r}")
        value = value.get(name)
    return value


class Renderer:
    """Renders a chart directory with values merged over its values.yaml."""

    def __init__(self, chart_dir: Path) -> None:
        self.chart_dir = chart_dir
        self.defines: dict[str, list[Any]] = {}
        self.templates: dict[str, list[Any]] = {}
        for path in sorted((chart_dir / "templates").iterdir()):
            if path.suffix not in (".yaml", ".yml", ".tpl"):
                continue
            nodes = _parse(_lex(path.read_text()), self.defines)
            if not path.name.startswith("_"):
                self.templates[path.name] = nodes
        self.chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        self.default_values = yaml.safe_load((chart_dir / "values.yaml").read_text())

    def render(
        self, values: dict[str, Any] | None = None, *, release: str = "aima"
    ) -> dict[str, str]:
        """Each template's text, as ``helm template`` would print it."""
        root = {
            "Values": merge(self.default_values, values or {}),
            "Release": {
                "Name": release,
                "Namespace": "default",
                "Service": "Helm",
                "IsInstall": True,
                "IsUpgrade": False,
            },
            "Chart": {
                "Name": self.chart["name"],
                "Version": self.chart["version"],
                "AppVersion": self.chart.get("appVersion", ""),
            },
        }
        scope = _Scope(self, root, root, {"$": root})
        return {name: self._nodes(nodes, scope) for name, nodes in self.templates.items()}

    def manifests(
        self, values: dict[str, Any] | None = None, *, release: str = "aima"
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(template name, parsed document) for every non-empty YAML document rendered."""
        for name, text in self.render(values, release=release).items():
            for doc in yaml.safe_load_all(text):
                if doc:
                    yield name, doc

    # -- nodes
    def _nodes(self, nodes: list[Any], scope: _Scope) -> str:
        return "".join(self._node(n, scope) for n in nodes)

    def _node(self, node: Any, scope: _Scope) -> str:
        if isinstance(node, _Text):
            return node.text
        if isinstance(node, _Action):
            return go_str(self._pipe(node.pipe, scope))
        if isinstance(node, _If):
            for cond, body in node.branches:
                if truthy(self._pipe(cond, scope)):
                    return self._nodes(body, scope)
            return self._nodes(node.otherwise, scope)
        if isinstance(node, _With):
            value = self._pipe(node.pipe, scope)
            if truthy(value):
                return self._nodes(node.body, scope.child(value))
            return self._nodes(node.otherwise, scope)
        if isinstance(node, _Range):
            return self._range(node, scope)
        raise TemplateError(f"unknown node {node!r}")

    def _range(self, node: _Range, scope: _Scope) -> str:
        value = self._pipe(node.pipe, scope)
        if not truthy(value):
            return self._nodes(node.otherwise, scope)
        if isinstance(value, dict):
            pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        else:
            raise TemplateError(f"range over {value!r}")
        out = []
        for key, item in pairs:
            names = node.variables
            bound = {names[-1]: item} if names else {}
            if len(names) == 2:
                bound[names[0]] = key
            out.append(self._nodes(node.body, scope.child(item, **bound)))
        return "".join(out)

    # -- pipelines
    def _pipe(self, toks: list[tuple[str, str]], scope: _Scope) -> Any:
        commands: list[list[Any]] = [[]]
        depth = 0
        for tok in toks:
            if tok == ("punct", "("):
                depth += 1
            elif tok == ("punct", ")"):
                depth -= 1
            if tok == ("punct", "|") and depth == 0:
                commands.append([])
            else:
                commands[-1].append(tok)
        value: Any = None
        for i, command in enumerate(commands):
            value = self._command(command, scope, piped=(value,) if i else ())
        return value

    def _command(self, toks: list[Any], scope: _Scope, piped: tuple[Any, ...]) -> Any:
        if not toks:
            raise TemplateError("empty command in a pipeline")
        kind, text = toks[0]
        if kind == "ident" and text not in ("true", "false", "nil"):
            args = [*self._operands(toks[1:], scope), *piped]
            if text == "include":
                name, dot = args
                if name not in self.defines:
                    raise TemplateError(f"include of undefined template {name!r}")
                return self._nodes(self.defines[name], scope.child(dot))
            if text not in FUNCTIONS:
                raise TemplateError(f"function {text!r} is not supported by this renderer")
            return FUNCTIONS[text](*args)
        operands = self._operands(toks, scope)
        if len(operands) != 1 or piped:
            raise TemplateError(f"cannot evaluate {toks!r}")
        return operands[0]

    def _operands(self, toks: list[Any], scope: _Scope) -> list[Any]:
        out: list[Any] = []
        i = 0
        while i < len(toks):
            kind, text = toks[i]
            if (kind, text) == ("punct", "("):
                depth, j = 1, i + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "punct" else 0
                    j += 1
                out.append(self._pipe(toks[i + 1 : j - 1], scope))
                i = j
                continue
            out.append(self._operand(kind, text, scope))
            i += 1
        return out

    def _operand(self, kind: str, text: str, scope: _Scope) -> Any:
        if kind == "str":
            return json.loads(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "field":
            return scope.dot if text == "." else _field(scope.dot, text, text)
        if kind == "var":
            name, _, path = text.partition(".")
            if name not in scope.vars:
                raise TemplateError(f"undefined variable {name}")
            return _field(scope.vars[name], path, text)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[text]
        raise TemplateError(f"unexpected {text!r}")


def merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over the chart's values.yaml (maps merge, rest replace)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return override
