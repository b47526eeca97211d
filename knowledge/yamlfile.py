"""Locating things in hand-edited YAML files, so errors can name a line."""

from __future__ import annotations

from collections.abc import Iterable

import yaml


def node_line(node: yaml.Node | None, loc: Iterable[int | str]) -> int | None:
    """Follow a pydantic error location through a YAML node tree to a 1-based line."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line
