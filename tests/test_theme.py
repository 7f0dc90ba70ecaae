"""theme.py: which folders a site's layouts come from."""

from __future__ import annotations

from pathlib import Path

from generator.theme import default_theme_dir, layout_dirs


def test_layout_dirs_site_first(tmp_path: Path) -> None:
    assert layout_dirs(tmp_path) == [default_theme_dir()]
    (tmp_path / "layouts").mkdir()
    assert layout_dirs(tmp_path) == [tmp_path / "layouts", default_theme_dir()]


def test_default_theme_has_the_base_layout() -> None:
    assert (default_theme_dir() / "base.html").is_file()
