"""Data files shipped inside installed PyPI packages."""
from __future__ import annotations

import importlib.util
import pathlib

from ..errors import LoadError


def package_data(package: str, folder: str = "data") -> pathlib.Path:
    """The data folder of the installed ``package``; a clear error when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LoadError(f"argument 'path': the {package} package is not installed; pip install "
                        f"{package}, or pass the folder of its data files")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / folder
