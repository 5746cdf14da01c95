"""The house keeps its shape: chalicelib's areas import one way (each area's "May import:" line in its
`__init__.py`), no module imports another that imports it back, and no module grows past 500 lines.

Read from the source with `ast`, so it costs milliseconds and imports nothing."""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "chalicelib"
MAX_LINES = 500


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}
AREAS = sorted({name.split(".")[1] for name in MODULES if name.count(".") >= 1})


def area_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports_of(module: str) -> set[str]:
    """The chalicelib modules `module` imports, at its top or inside a function alike."""
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name.startswith("chalicelib.") and name != module:  # every module loads chalicelib itself
                found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def allowed(area: str) -> set[str]:
    """The areas `area`'s `__init__.py` says it may import."""
    text = ast.get_docstring(ast.parse(MODULES[f"chalicelib.{area}"].read_text())) or ""
    line = re.search(r"^May import: (.*)$", text, re.MULTILINE)
    assert line, f"chalicelib/{area}/__init__.py says nothing of what it may import ('May import: ...')"
    return {name.strip(" .") for name in line.group(1).split(",")} & set(AREAS)


def test_every_area_declares_what_it_may_import():
    for area in AREAS:
        allowed(area)


def test_the_declared_directions_form_one_order():
    """Each area may import exactly the areas below it: the declarations are one ladder, not a web."""
    ladder = sorted(AREAS, key=lambda area: len(allowed(area)))
    for rank, area in enumerate(ladder):
        assert allowed(area) == set(ladder[:rank]), f"{area} may import {sorted(allowed(area))}"


@pytest.mark.parametrize("area", AREAS)
def test_imports_run_one_way(area):
    ok = allowed(area) | {area}
    against = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() if area_of(module) == area
                     for target in targets if area_of(target) not in ok)
    assert not against, "\n".join(against)


def test_no_import_circle():
    """Tarjan's strongly connected components over every import, top-level or lazy."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(circle) for circle in circles)


def test_no_module_over_the_limit():
    long = {module: n for module, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
