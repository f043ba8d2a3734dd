"""Field names per repository: neutral qualified DC → DSpace, Omeka S (dcterms) or simple DC.

Mapped metadata is keyed by DSpace's qualified DC names, the richest of the three. DSpace keeps
them as they are. Omeka S stores DCMI Terms, whose refinements say the same things under other
names (a DSpace ``dc.contributor.author`` is a ``dcterms:creator``). Simple DC (oai_dc) keeps only
the fifteen elements. Both tables are here, in one place, so that a reader can check every choice.

Choices worth knowing:
* every ``dc.identifier.*`` (ISBN, ISSN, URI, other, and kitab's identity) becomes
  ``dcterms:identifier``: DCMI Terms has no identifier refinements, and the identity must be
  where ``kitab relink`` looks for it;
* ``dc.description.statementofresponsibility`` and ``dc.description.edition`` become
  ``dcterms:description`` (DCMI Terms has no better home; ``bibliographicCitation`` would claim
  a full citation);
* ``dc.relation.ispartofseries`` becomes ``dcterms:isPartOf``;
* ``dc.subject.udc``/``ddc``/``lcc``/``classification`` become ``dcterms:subject``, the value
  says which scheme by its shape, and Omeka has no scheme qualifier on literals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from kitab.model import Metadata

Repository = Literal["dspace", "omeka"]

#: DSpace qualified DC → DCMI Terms, most specific name first; a name not listed falls back to
#: its first two parts (``dc.date.copyright`` → ``dc.date``).
DCTERMS: dict[str, str] = {
    "dc.title": "dcterms:title",
    "dc.title.alternative": "dcterms:alternative",
    "dc.creator": "dcterms:creator",
    "dc.contributor.author": "dcterms:creator",
    "dc.contributor": "dcterms:contributor",
    "dc.date.issued": "dcterms:issued",
    "dc.date.created": "dcterms:created",
    "dc.date.available": "dcterms:available",
    "dc.date.accessioned": "dcterms:dateSubmitted",
    "dc.date.copyright": "dcterms:dateCopyrighted",
    "dc.date": "dcterms:date",
    "dc.description.abstract": "dcterms:abstract",
    "dc.description.tableofcontents": "dcterms:tableOfContents",
    "dc.description": "dcterms:description",
    "dc.format.extent": "dcterms:extent",
    "dc.format.medium": "dcterms:medium",
    "dc.format": "dcterms:format",
    "dc.identifier": "dcterms:identifier",
    "dc.language": "dcterms:language",
    "dc.publisher": "dcterms:publisher",
    "dc.relation.ispartofseries": "dcterms:isPartOf",
    "dc.relation.ispartof": "dcterms:isPartOf",
    "dc.relation.haspart": "dcterms:hasPart",
    "dc.relation.isversionof": "dcterms:isVersionOf",
    "dc.relation.hasversion": "dcterms:hasVersion",
    "dc.relation.isformatof": "dcterms:isFormatOf",
    "dc.relation.hasformat": "dcterms:hasFormat",
    "dc.relation.isreferencedby": "dcterms:isReferencedBy",
    "dc.relation.references": "dcterms:references",
    "dc.relation.replaces": "dcterms:replaces",
    "dc.relation.isreplacedby": "dcterms:isReplacedBy",
    "dc.relation.requires": "dcterms:requires",
    "dc.relation": "dcterms:relation",
    "dc.rights.license": "dcterms:license",
    "dc.rights": "dcterms:rights",
    "dc.subject": "dcterms:subject",
    "dc.coverage.spatial": "dcterms:spatial",
    "dc.coverage.temporal": "dcterms:temporal",
    "dc.coverage": "dcterms:coverage",
    "dc.type": "dcterms:type",
    "dc.source": "dcterms:source",
    "dc.audience": "dcterms:audience",
}

#: Qualified DC → the fifteen simple DC elements (oai_dc), for the same fall-back by prefix.
SIMPLE_DC: dict[str, str] = {
    "dc.contributor.author": "creator",
    "dc.creator": "creator",
    **{
        f"dc.{element}": element
        for element in [
            "title",
            "contributor",
            "coverage",
            "date",
            "description",
            "format",
            "identifier",
            "language",
            "publisher",
            "relation",
            "rights",
            "source",
            "subject",
            "type",
        ]
    },
}


def _lookup(table: dict[str, str], name: str) -> str:
    found = table.get(name)
    if found is None:
        found = table.get(".".join(name.split(".")[:2]))
    if found is None:
        raise ValueError(f"no rendering for metadata field {name!r}")
    return found


def dcterms_name(name: str) -> str:
    """The Omeka S (DCMI Terms) term for a neutral field name."""
    return _lookup(DCTERMS, name)


def simple_dc_element(name: str) -> str:
    """The oai_dc element (``title``, ``creator``...) for a neutral field name."""
    return _lookup(SIMPLE_DC, name)


def unrender(term: str, repository: Repository, names: Iterable[str] | None = None) -> list[str]:
    """The neutral fields a repository's field name can stand for: the inverse of render.

    DSpace keeps the neutral names, so a term is itself. An Omeka S term can stand for several
    (``dcterms:creator`` for ``dc.contributor.author`` and ``dc.creator``; every identifier is
    ``dcterms:identifier``); pass ``names`` (e.g. a crosswalk's owned fields) to consider those
    rather than only the names in the table. The order is the table's, then the given names'.
    """
    if repository == "dspace":
        return [term]
    found = [name for name, dcterms in DCTERMS.items() if dcterms == term]
    for name in names or ():
        try:
            if name not in found and dcterms_name(name) == term:
                found.append(name)
        except ValueError:
            continue
    return found


def render(metadata: Metadata, repository: Repository) -> Metadata:
    """Neutral metadata under the repository's own field names, values merged in order.

    Several neutral fields can land on one term (every identifier on ``dcterms:identifier``);
    their values follow each other in the order the fields come, without repeats.
    """
    if repository == "dspace":
        return {name: list(values) for name, values in metadata.items()}
    rendered: Metadata = {}
    for name, values in metadata.items():
        target = rendered.setdefault(dcterms_name(name), [])
        target.extend(v for v in values if v not in target)
    return rendered
