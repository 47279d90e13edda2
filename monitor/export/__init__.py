"""Datasets for researchers: filtered, streamed exports with a datasheet beside each file.

query.py      ItemFilter and the chunked SQL that export and API share
writers.py    the columns and the CSV, JSONL and Parquet writers
datasheet.py  provenance: query, counts, versions, codebook, hashes, columns
dataset.py    export_dataset: data file + datasheet
"""

from monitor.export.dataset import ExportResult, export_dataset, read_session
from monitor.export.query import ItemFilter, make_filter
from monitor.export.writers import FORMATS

__all__ = ["FORMATS", "ExportResult", "ItemFilter", "export_dataset", "make_filter", "read_session"]
