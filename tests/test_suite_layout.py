"""How the tests share code: fixtures through the hamlet_fixtures plugin (and tests/web/conftest.py for the
pages), plain code through helpers.py, collect.py and central.py (and tests/web/helpers.py). A fixture
imported from another test module is defined again in the importer, which linters flag as a redefinition
at every use, and renaming a test file breaks unrelated ones. These checks read the sources with ast."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SOURCES = sorted(p for p in TESTS.rglob("*.py") if "data" not in p.relative_to(TESTS).parts)


def imported_modules(tree: ast.AST) -> list[str]:
    """Every module an import statement names, relative ones with their dots, `from . import x` as `.x`."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            if node.module is None:  # `from . import test_x` imports the module test_x
                names += [base + alias.name for alias in node.names]
    return names


def is_test_module_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "conftest" or last.startswith("test_")


def test_the_checks_see_every_test_module_and_helper():
    names = {p.relative_to(TESTS).as_posix() for p in SOURCES}
    assert {"test_suite_layout.py", "helpers.py", "hamlet_fixtures.py", "web/test_pages.py"} <= names


def test_the_check_knows_each_way_to_import_a_test_module():
    code = ("import conftest\nfrom test_forms import xform\nfrom .test_browser import sign_in\n"
            "from web.conftest import page\nfrom . import test_pages\nfrom helpers import Api\nimport collect\n")
    found = [m for m in imported_modules(ast.parse(code)) if is_test_module_or_conftest(m)]
    assert found == ["conftest", "test_forms", ".test_browser", "web.conftest", ".test_pages"]


def test_no_module_imports_a_test_module_or_conftest():
    offenders = [f"{path.relative_to(TESTS)}: {module}"
                 for path in SOURCES
                 for module in imported_modules(ast.parse(path.read_text("utf-8"), filename=str(path)))
                 if is_test_module_or_conftest(module)]
    assert offenders == [], "share fixtures through hamlet_fixtures.py and plain code through helpers.py"


def test_the_top_conftest_holds_only_the_plugin_list_and_hooks():
    tree = ast.parse((TESTS / "conftest.py").read_text("utf-8"))
    defined = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assigned = [target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)]
    assert all(name.startswith("pytest_") for name in defined), defined
    assert assigned == ["pytest_plugins"]
