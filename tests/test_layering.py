"""No import cycles between the parts of bot/ (and actions/): each part builds on lower ones."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from bot.config import PROJECT_ROOT


def _part(module: str) -> str | None:
    """The part a module belongs to: `bot.store`, `bot.launcher`, `actions`, or None (not ours)."""
    parts = module.split(".")
    if parts[0] == "actions":
        return "actions"
    if parts[0] != "bot" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def part_imports(root: Path = PROJECT_ROOT) -> dict[str, set[str]]:
    """Which parts each part imports, counting imports anywhere in a module (also in functions)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for top in ("bot", "actions"):
        for path in (root / top).rglob("*.py"):
            if "versions" in path.parts:  # Alembic revisions are frozen history
                continue
            here = _part(".".join(path.relative_to(root).with_suffix("").parts))
            if here is None:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for name in names:
                    there = _part(name)
                    if there is not None and there != here:
                        edges[here].add(there)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                walk(nxt, path + [nxt])
        done.add(node)

    for start in sorted(edges):
        if start not in done:
            walk(start, [start])
    return found


def test_the_parts_of_bot_import_each_other_without_cycles() -> None:
    edges = part_imports()
    assert {"bot.store", "bot.workbench", "bot.channels", "actions"} <= set(edges)
    assert cycles(edges) == []


def test_the_store_builds_on_config_and_text_only() -> None:
    assert part_imports()["bot.store"] <= {"bot.config", "bot.text"}


def test_a_cycle_is_found(tmp_path: Path) -> None:
    for name, body in (("a", "from bot.b import x\n"), ("b", "def f():\n    import bot.a\n")):
        (tmp_path / "bot").mkdir(exist_ok=True)
        (tmp_path / "bot" / f"{name}.py").write_text(body)
    (tmp_path / "actions").mkdir()
    assert cycles(part_imports(tmp_path)) == [["bot.a", "bot.b", "bot.a"]]
