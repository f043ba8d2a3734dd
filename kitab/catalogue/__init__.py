"""The catalogue room: reading MARC 21 / UNIMARC exports and writing records back.

``open_catalogue`` streams decoded records out of ISO 2709 or MARCXML files (or folders of
them), with flavour and charset detection and bad-record tolerance; ``write_records`` writes
records back atomically. Matching scans to records lives in :mod:`kitab.catalogue.scans`.
"""

from kitab.catalogue.check import CheckReport, check_catalogue
from kitab.catalogue.options import ReadOptions
from kitab.catalogue.reader import Catalogue, open_catalogue
from kitab.catalogue.report import Problem, ReadSummary, Severity
from kitab.catalogue.writer import WriteError, write_records

__all__ = [
    "Catalogue",
    "CheckReport",
    "Problem",
    "ReadOptions",
    "ReadSummary",
    "Severity",
    "WriteError",
    "check_catalogue",
    "open_catalogue",
    "write_records",
]
