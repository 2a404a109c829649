"""How the probe names a file: by the sys.path entry it imports from, or its package."""

from __future__ import annotations

from pathlib import Path

from reports.tree_probe import module_for


def _tree(tmp_path: Path) -> Path:
    files = ["service/pkg/__init__.py", "service/pkg/core/__init__.py", "service/pkg/core/db.py"]
    for name in [*files, "service/pkg/my-script.py", "flat/app/main.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    return tmp_path.resolve()


def test_a_regular_package_imports_only_from_its_parent_directory(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    db, source = str(root / "service/pkg/core/db.py"), str(root / "service/pkg")
    assert module_for(db, [str(root / "service")], source) == ("pkg.core.db", None)
    assert module_for(str(root / "service/pkg/__init__.py"), [str(root / "service")], source) == (
        "pkg",
        None,
    )
    # From the repository's root, `service.pkg.core.db` would import as a namespace package,
    # but the tests import `pkg`: the package is named as not on the path instead.
    assert module_for(db, [str(root)], source) == (None, str(root / "service/pkg"))


def test_a_namespace_tree_imports_from_the_first_entry_that_holds_it(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    main, source = str(root / "flat/app/main.py"), str(root / "flat/app")
    assert module_for(main, [str(root / "flat"), str(root)], source) == ("app.main", None)
    assert module_for(main, [str(root / "elsewhere")], source) == (None, str(root / "flat/app"))


def test_a_file_no_dotted_name_reaches_is_not_a_module(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    odd = str(root / "service/pkg/my-script.py")
    assert module_for(odd, [str(root / "service")], str(root / "service/pkg")) == (None, None)
