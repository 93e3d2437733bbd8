"""YAML read with the line of every key and value, so evidence can point at a line.

``yaml.safe_load`` returns plain dicts and strings that have forgotten where they came from.
:func:`load_documents` composes the node graph instead (PyYAML, no code executed, no custom
tags constructed) and turns it into :class:`YMap`, :class:`YList` and :class:`YStr`, which
behave like ``dict``, ``list`` and ``str`` and carry ``.line`` (1-based). Scalars stay text
(``"true"``, ``"3"``): the scanner compares words, it never needs typed values.
"""

from __future__ import annotations

from typing import Any

import yaml


class YStr(str):
    """A YAML scalar as text, with the line it starts on."""

    line: int = 0
    #: True for a literal or folded block (``|``, ``>``): its text starts on the next line
    block: bool = False


class YList(list):
    """A YAML sequence, with the line it starts on."""

    line: int = 0


class YMap(dict):
    """A YAML mapping with string keys, with the line of each key (``key_lines``)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """Return the line of ``key``, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


def _convert(node: yaml.Node, depth: int = 0) -> Any:
    if depth > 100:  # a pathological nesting is not worth following
        return YStr("")
    if isinstance(node, yaml.ScalarNode):
        value = YStr(node.value)
        value.line = node.start_mark.line + 1
        value.block = node.style in ("|", ">")
        return value
    if isinstance(node, yaml.SequenceNode):
        items = YList(_convert(child, depth + 1) for child in node.value)
        items.line = node.start_mark.line + 1
        return items
    mapping = YMap()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            continue  # complex keys never matter here
        if key == "<<" and isinstance(value_node, yaml.MappingNode):
            merged = _convert(value_node, depth + 1)
            for merged_key, merged_value in merged.items():
                mapping.setdefault(merged_key, merged_value)
                mapping.key_lines.setdefault(merged_key, merged.line_of(merged_key))
            continue
        mapping[key] = _convert(value_node, depth + 1)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def load_documents(text: str) -> list[Any]:
    """Return every document of a YAML text as line-aware objects; [] when it is not YAML.

    Templating that is not YAML (Helm charts, Jinja) and any parse error give [] rather
    than an exception: a file the scanner cannot read is no evidence either way.
    """
    try:
        return [_convert(node) for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node]
    except (yaml.YAMLError, RecursionError, ValueError):
        return []


def load_mapping(text: str) -> YMap | None:
    """Return the first document when it is a mapping, else None."""
    docs = load_documents(text)
    return docs[0] if docs and isinstance(docs[0], YMap) else None


def text_of(value: Any) -> str:
    """Return a scalar as text, a list of scalars joined by spaces, else ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(item for item in value if isinstance(item, str))
    return ""
