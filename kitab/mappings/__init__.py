"""mappings room: crosswalks from MARC 21 / UNIMARC records to repository metadata.

Records become repository-neutral metadata (qualified DC names, DSpace style) through a
declarative crosswalk file; :func:`render` names the fields for a given repository. See
``kitab/mappings/README.md`` for the crosswalk file format.
"""

from kitab.mappings.crosswalk import (
    Crosswalk,
    CrosswalkError,
    Rule,
    builtin_names,
    default_crosswalk,
    load_crosswalk,
    parse_crosswalk,
)
from kitab.mappings.engine import map_record, metadata_hash, record_to_item
from kitab.mappings.naming import dcterms_name, render, simple_dc_element, unrender
from kitab.mappings.reverse import ReverseResult, apply_changes, owned_fields

__all__ = [
    "Crosswalk",
    "CrosswalkError",
    "ReverseResult",
    "Rule",
    "apply_changes",
    "builtin_names",
    "dcterms_name",
    "default_crosswalk",
    "load_crosswalk",
    "map_record",
    "metadata_hash",
    "owned_fields",
    "parse_crosswalk",
    "record_to_item",
    "render",
    "simple_dc_element",
    "unrender",
]
