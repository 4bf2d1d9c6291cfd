"""Datasets usable by name: the tables bundled with nntrain, then the Keras catalogue (downloaded once).

    bundled.py     small classic tables shipped in datasets/, read offline
    catalogue.py   Keras's datasets: their files, hashes, splits and options, reproduced
    download.py    fetch a file once into the cache, checked by hash
"""

from __future__ import annotations

from nntrain.data.sources import bundled, catalogue
from nntrain.errors import ConfigError
from nntrain.registry import Registry

# Every dataset name, bundled first: a bundled table needs no download (boston_housing is bundled with Keras's split).
DATASETS = Registry("dataset")
for _entry in (*bundled.BUNDLED.values(), *catalogue.CATALOGUE.values()):
    DATASETS.register(_entry.name)(_entry)


def dataset_entry(name: str):
    """The BundledEntry or CatalogueEntry of a dataset name (closest-match ConfigError when unknown)."""
    try:
        return DATASETS.get(name)
    except ConfigError as exc:
        raise ConfigError(f"{exc}. For own files use data.train instead", ("data", "dataset")) from None
