"""The order targets are planned in (dependencies first), and the report of a dependency cycle."""
from __future__ import annotations

from ksbuild.errors import ConfigError, Problems
from ksbuild.model import Label, Target


def topological_order(targets: dict[Label, Target], edges: dict[Label, dict[Label, int]],
                      problems: Problems) -> list[Label]:
    """Every target after the ones it depends on (`edges`: target -> its dependencies), sorted
    where the graph leaves a choice; a cycle is reported and raised as a ConfigError."""
    order: list[Label] = []
    state: dict[Label, int] = {}  # 1 visiting, 2 done
    for start in sorted(targets):
        if state.get(start):
            continue
        stack: list[tuple[Label, list[Label]]] = [(start, sorted(edges[start]))]
        state[start] = 1
        while stack:
            label, pending = stack[-1]
            if not pending:
                stack.pop()
                state[label] = 2
                order.append(label)
                continue
            nxt = pending.pop(0)
            if state.get(nxt) == 1:
                path = [entry[0] for entry in stack]
                report_cycle(targets, path[path.index(nxt):] + [nxt], problems)
                raise ConfigError(problems.items)
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, sorted(edges[nxt])))
    return order


def report_cycle(targets: dict[Label, Target], cycle: list[Label], problems: Problems) -> None:
    first = targets[cycle[0]]
    steps = "\n".join(f"      {label}  ({targets[label].file}:{targets[label].line})" for label in cycle)
    problems.add(first.file, first.line, f"dependency cycle: {' -> '.join(map(str, cycle))}\n{steps}",
                 "Break the cycle: a target cannot depend, directly or not, on itself.")
