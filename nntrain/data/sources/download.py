"""Fetch a dataset file once: look in the caches, else download to a temp file, check its hash, then rename.

Cache: $NNTRAIN_CACHE_DIR, or ~/.cache/nntrain/datasets. A file Keras already downloaded
($KERAS_HOME/datasets, or ~/.keras/datasets) is used in place when its hash matches. Base URL: Keras's, unless
$NNTRAIN_DATASETS_URL points elsewhere (a mirror, or a local server in tests).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from nntrain.errors import DataError

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
Progress = Callable[[int, int, str], None]
_CHUNK = 1 << 16


def cache_dir() -> Path:
    """Where nntrain keeps downloaded datasets."""
    env = os.environ.get("NNTRAIN_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nntrain" / "datasets"


def keras_cache_dir() -> Path:
    """Keras's download folder, whose files are reused without downloading again."""
    env = os.environ.get("KERAS_HOME")
    return (Path(env).expanduser() if env else Path.home() / ".keras") / "datasets"


def base_url() -> str:
    url = os.environ.get("NNTRAIN_DATASETS_URL") or KERAS_ORIGIN
    return url if url.endswith("/") else url + "/"


def file_hash(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _algorithm(expected: str) -> str:
    # Keras pins the big archives by SHA-256 and its word-index JSON files by MD5.
    return "md5" if len(expected) == 32 else "sha256"


def matches(path: Path, expected: str) -> bool:
    return path.is_file() and file_hash(path, _algorithm(expected)) == expected.lower()


def cached_path(fname: str, subdir: str = "") -> Path | None:
    """The cached copy of a file, if any (its hash is checked in `fetch`)."""
    for folder in (cache_dir(), keras_cache_dir()):
        p = folder / subdir / fname if subdir else folder / fname
        if p.is_file():
            return p
    return None


def _download(url: str, dest: Path, expected: str, progress: Progress | None) -> str:
    """Stream url into dest (a temp file), returning the hex digest of what arrived."""
    h = hashlib.new(_algorithm(expected))
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        if progress:
            progress(0, total, dest.name.split(".part")[0])
        for block in iter(lambda: response.read(_CHUNK), b""):
            out.write(block)
            h.update(block)
            done += len(block)
            if progress:
                progress(done, total, dest.name.split(".part")[0])
    return h.hexdigest()


def fetch(fname: str, expected_hash: str, subdir: str = "", progress: Progress | None = None) -> Path:
    """The local path of a dataset file, downloading it on first use.

    Args:
        fname: file name under the base URL (and in the caches).
        expected_hash: hex SHA-256 (or MD5, 32 digits) the file must have.
        subdir: sub-folder in the caches (Keras keeps Fashion-MNIST under `fashion-mnist/`).
        progress: optional callback progress(done_bytes, total_bytes, description) during the download.

    Raises:
        DataError: the download failed (naming the URL to fetch by hand and the path to put it at), or the file
            arrived corrupt twice.
    """
    dest = cache_dir() / subdir / fname if subdir else cache_dir() / fname
    for folder in (cache_dir(), keras_cache_dir()):
        candidate = folder / subdir / fname if subdir else folder / fname
        if matches(candidate, expected_hash):
            return candidate
    url = base_url() + fname
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the dataset cache folder {dest.parent} ({exc}); set NNTRAIN_CACHE_DIR"
        ) from None
    if dest.exists():
        dest.unlink()  # present but corrupt (the hash check above failed)
    tmp = dest.with_name(f"{dest.name}.part{os.getpid()}")
    got = ""
    for _attempt in range(2):
        try:
            got = _download(url, tmp, expected_hash, progress)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            reason = getattr(exc, "reason", exc)
            raise DataError(
                f"could not download {url} ({reason}). Without network access, download that file by hand and "
                f"put it at {dest}"
            ) from None
        if got == expected_hash.lower():
            os.replace(tmp, dest)
            return dest
        tmp.unlink(missing_ok=True)  # corrupt transfer: try once more
    raise DataError(
        f"{url} arrived corrupt twice ({_algorithm(expected_hash)} {got}, expected {expected_hash}); "
        f"download it by hand and put it at {dest}"
    )
