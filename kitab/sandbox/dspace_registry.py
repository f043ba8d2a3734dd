"""The metadata field registry a fresh DSpace ships with (dublin-core-types.xml, dcterms-types.xml,
dspace-types.xml), so the sandbox refuses exactly the fields a stock DSpace refuses.

Only names matter to kitab; scope notes are kept short.
"""

from __future__ import annotations

_DC = """
contributor contributor.advisor contributor.author contributor.editor contributor.illustrator
contributor.other coverage.spatial coverage.temporal creator date date.accessioned
date.available date.copyright date.created date.issued date.submitted date.updated description
description.abstract description.provenance description.sponsorship
description.statementofresponsibility description.tableofcontents description.uri
description.version format format.extent format.medium format.mimetype identifier
identifier.citation identifier.govdoc identifier.isbn identifier.issn identifier.sici
identifier.ismn identifier.other identifier.uri language language.iso language.rfc3066 publisher
relation relation.haspart relation.hasversion relation.isbasedon relation.isformatof
relation.ispartof relation.ispartofseries relation.isreferencedby relation.isreplacedby
relation.isversionof relation.replaces relation.requires relation.uri rights rights.holder
rights.uri source source.uri subject subject.classification subject.ddc subject.lcc subject.lcsh
subject.mesh subject.other title title.alternative type
"""

_DCTERMS = """
abstract accessRights accrualMethod accrualPeriodicity accrualPolicy alternative audience
available bibliographicCitation conformsTo contributor coverage created creator date
dateAccepted dateCopyrighted dateSubmitted description educationLevel extent format hasFormat
hasPart hasVersion identifier instructionalMethod isFormatOf isPartOf isReferencedBy
isReplacedBy isRequiredBy issued isVersionOf language license mediator medium modified
provenance publisher references relation replaces requires rights rightsHolder source spatial
subject tableOfContents temporal title type valid
"""

_DSPACE = "entity.type object.owner"


def _rows(schema: str, names: str) -> list[tuple[str, str, str | None, str | None]]:
    rows = []
    for name in names.split():
        element, _, qualifier = name.partition(".")
        rows.append((schema, element, qualifier or None, None))
    return rows


DEFAULT_FIELDS = _rows("dc", _DC) + _rows("dcterms", _DCTERMS) + _rows("dspace", _DSPACE)
SCHEMA_IDS = {"dc": 1, "dcterms": 2, "dspace": 3}
SCHEMA_NAMESPACES = {
    "dc": "http://dublincore.org/documents/dcmi-terms/",
    "dcterms": "http://purl.org/dc/terms/",
    "dspace": "http://dspace.org/dspace",
}
