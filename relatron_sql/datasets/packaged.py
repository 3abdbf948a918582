"""Data files shipped inside installed PyPI packages, and the zip archives they come in."""
from __future__ import annotations

import importlib.util
import io
import pathlib
import zipfile
import zlib

from ..errors import LoadError, bad_argument


def package_data(package: str, folder: str = "data") -> pathlib.Path:
    """The data folder of the installed ``package``; a clear error when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise bad_argument("path", f"the {package} package is not installed; pip install "
                           f"{package}, or pass the folder of its data files", None, LoadError)
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / folder


def open_zip(file: pathlib.Path) -> zipfile.ZipFile:
    """``file`` opened as a zip archive; an error naming ``path`` when it is not one."""
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as e:
        raise bad_argument("path", f"{file} is not a readable zip archive", None, LoadError) from e


def read_csv(zf: zipfile.ZipFile, name: str, **options):
    """Member ``name`` of ``zf`` read by pyarrow's CSV reader with ``options``; an error
    naming ``path`` and the archive when the member is damaged or not CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(io.BytesIO(zf.read(name)), **options)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, pa.ArrowInvalid) as e:
        raise bad_argument("path", f"{zf.filename} holds an unreadable {name}: {e}",
                           None, LoadError) from e
