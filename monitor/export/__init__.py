"""Datasets for researchers: filtered, streamed exports with a datasheet beside each file.

query.py      ItemFilter and the chunked SQL that export and API share
writers.py    the columns and the CSV, JSONL and Parquet writers
datasheet.py  provenance: query, counts, versions, codebook, hashes, columns
dataset.py    export_dataset: data file + datasheet
"""

#: the formats a dataset is written in
FORMATS = ("csv", "jsonl", "parquet")
