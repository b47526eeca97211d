"""Reading hand-edited YAML files once, with libyaml, keeping line numbers for errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser is ~10x faster than the pure-Python one and keeps the node marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(ValueError):
    """A file that is not valid YAML, with the 1-based line where parsing stopped."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"not valid YAML: {problem}")
        self.line = line


def parse_yaml(text: str) -> Any:
    """Plain data from YAML text (shipped data files, front matter), parsed by libyaml."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a file into data and its node tree (for line numbers); raise YamlSyntaxError."""
    loader = _Loader(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()  # parsed once: the data is built from this tree
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(line, problem) from None
    finally:
        loader.dispose()


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
