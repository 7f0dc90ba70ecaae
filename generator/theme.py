"""Where a site's layouts come from: its own `layouts/` folder first, then the default theme.

Apart from `render.py` so that the no-change shortcut can fingerprint the layouts without
importing Jinja (or reading config.yaml: the folders follow from the site's folder alone)."""

from __future__ import annotations

from pathlib import Path

import generator


def default_theme_dir() -> Path:
    """The default theme: package data when installed, the repository's layouts/ otherwise."""
    packaged = Path(generator.__file__).parent / "layouts"
    if packaged.is_dir():
        return packaged
    return Path(generator.__file__).parent.parent / "layouts"


def layout_dirs(site_root: Path) -> list[Path]:
    """The site's own layouts/ first, then the default theme, without duplicates."""
    dirs = []
    for candidate in (site_root / "layouts", default_theme_dir()):
        if candidate.is_dir() and candidate.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(candidate)
    return dirs
