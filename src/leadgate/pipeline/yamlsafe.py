"""Strict, safe YAML for presets: plain data plus the line of every value.

On top of ``yaml.safe_load`` semantics this loader rejects what makes YAML dangerous or
surprising for hand-edited config (docs/reliability.md, Y-series):

- anchors and aliases (``&a`` / ``*a``), so no billion-laughs document can expand;
- duplicate keys (PyYAML silently keeps the last one);
- any explicit tag other than the plain YAML types (``!!python/object/apply:...``);
- more than one document, nesting deeper than ``MAX_DEPTH``, files over ``MAX_BYTES``.

It also records, for every path, the line it sits on and the source text of plain scalars that
YAML 1.1 resolved to something other than a string (``on`` -> True), so schema errors can say
where they are and what YAML did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 16
Path = tuple[str | int, ...]
_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(
    _TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class YamlProblem(ValueError):
    """A document that is not acceptable YAML; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(slots=True)
class Document:
    """Plain data (dict/list/str/int/float/bool/None/date) and where each value came from."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    sources: dict[Path, str] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor the document has."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases before anything is composed from them."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise YamlProblem(_line(event), "aliases (*name) are not allowed in presets")
        if getattr(event, "anchor", None) is not None:
            raise YamlProblem(_line(event), "anchors (&name) are not allowed in presets")
        return super().compose_node(parent, index)


def _line(item: yaml.Event | Node) -> int:
    mark = item.start_mark
    return mark.line + 1 if mark is not None else 1


def _build(loader: _NoAliasLoader, node: Node, path: Path, doc: Document) -> Any:
    if len(path) > MAX_DEPTH:
        raise YamlProblem(_line(node), f"nested deeper than {MAX_DEPTH} levels")
    if node.tag not in _PLAIN_TAGS:
        raise YamlProblem(_line(node), f"the tag {node.tag} is not allowed in presets")
    doc.lines[path] = _line(node)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlProblem(_line(key_node), "a key must be plain text")
            if key_node.tag not in _PLAIN_TAGS:
                raise YamlProblem(_line(key_node), f"the tag {key_node.tag} is not allowed")
            key = loader.construct_object(key_node)
            if key in result:
                raise YamlProblem(
                    _line(key_node),
                    f"duplicate key {key!r} (YAML would silently keep only the last one)",
                )
            label = key if isinstance(key, str | int) else str(key)
            doc.lines[(*path, label)] = _line(key_node)
            if not isinstance(key, str) and key_node.style is None:
                doc.sources[(*path, label, "[key]")] = str(key_node.value)
            result[key] = _build(loader, value_node, (*path, label), doc)
        return result
    if isinstance(node, SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    value = loader.construct_object(node)
    if not isinstance(value, str) and isinstance(node, ScalarNode) and node.style is None:
        doc.sources[path] = str(node.value)
    return value


def load_document(text: bytes) -> Document:
    """Parse one YAML document strictly; raises ``YamlProblem`` with the line at fault."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(1, f"the file is {len(text)} bytes; presets are limited to 1 MB")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, "the file is not valid UTF-8") from exc
    loader = _NoAliasLoader(decoded)
    try:
        root = loader.get_single_node()
        doc = Document(data=None)
        if root is not None:
            doc.data = _build(loader, root, (), doc)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        column = f" (column {mark.column + 1})" if mark is not None else ""
        what = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlProblem(line, f"{what}{column}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, str(exc).splitlines()[0]) from exc
    except RecursionError as exc:
        raise YamlProblem(1, "nested too deeply") from exc
    finally:
        loader.dispose()
