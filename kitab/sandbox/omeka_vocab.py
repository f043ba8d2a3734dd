# ruff: noqa: E501  (the vocabulary rows are data, one term per line)
"""The vocabularies of a fresh Omeka S install, with the ids a fresh install gives them.

Why fixed ids: Omeka S imports dcterms, dctype, bibo and foaf in that order at install time, and
clients (kitab included) hard-code ``dcterms:title`` = 1 or ``dctype:Image`` = 26. The rows below
are in import order, so a row's position is its id. Labels and comments are those of a real
install's ``property`` and ``resource_class`` tables; the comments of bibo and foaf *properties*
are left out (``None``) because nothing in kitab reads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    id: int
    prefix: str
    namespace_uri: str
    label: str
    comment: str


@dataclass(frozen=True)
class Term:
    """A property or a resource class."""

    id: int
    vocabulary: Vocabulary
    local_name: str
    label: str
    comment: str | None

    @property
    def term(self) -> str:
        return f"{self.vocabulary.prefix}:{self.local_name}"


VOCABULARIES = (
    Vocabulary(
        1,
        "dcterms",
        "http://purl.org/dc/terms/",
        "Dublin Core",
        "Basic resource metadata (DCMI Metadata Terms)",
    ),
    Vocabulary(
        2,
        "dctype",
        "http://purl.org/dc/dcmitype/",
        "Dublin Core Type",
        "Basic resource types (DCMI Type Vocabulary)",
    ),
    Vocabulary(
        3,
        "bibo",
        "http://purl.org/ontology/bibo/",
        "Bibliographic Ontology",
        "Bibliographic metadata (BIBO)",
    ),
    Vocabulary(
        4,
        "foaf",
        "http://xmlns.com/foaf/0.1/",
        "Friend of a Friend",
        "Relationships between people and organizations (FOAF)",
    ),
)

# prefix|local_name|label|comment, in install order (id = line number).
_PROPERTIES = """\
dcterms|title|Title|A name given to the resource.
dcterms|creator|Creator|An entity primarily responsible for making the resource.
dcterms|subject|Subject|The topic of the resource.
dcterms|description|Description|An account of the resource.
dcterms|publisher|Publisher|An entity responsible for making the resource available.
dcterms|contributor|Contributor|An entity responsible for making contributions to the resource.
dcterms|date|Date|A point or period of time associated with an event in the lifecycle of the resource.
dcterms|type|Type|The nature or genre of the resource.
dcterms|format|Format|The file format, physical medium, or dimensions of the resource.
dcterms|identifier|Identifier|An unambiguous reference to the resource within a given context.
dcterms|source|Source|A related resource from which the described resource is derived.
dcterms|language|Language|A language of the resource.
dcterms|relation|Relation|A related resource.
dcterms|coverage|Coverage|The spatial or temporal topic of the resource, the spatial applicability of the resource, or the jurisdiction under which the resource is relevant.
dcterms|rights|Rights|Information about rights held in and over the resource.
dcterms|audience|Audience|A class of entity for whom the resource is intended or useful.
dcterms|alternative|Alternative Title|An alternative name for the resource.
dcterms|tableOfContents|Table Of Contents|A list of subunits of the resource.
dcterms|abstract|Abstract|A summary of the resource.
dcterms|created|Date Created|Date of creation of the resource.
dcterms|valid|Date Valid|Date (often a range) of validity of a resource.
dcterms|available|Date Available|Date (often a range) that the resource became or will become available.
dcterms|issued|Date Issued|Date of formal issuance (e.g., publication) of the resource.
dcterms|modified|Date Modified|Date on which the resource was changed.
dcterms|extent|Extent|The size or duration of the resource.
dcterms|medium|Medium|The material or physical carrier of the resource.
dcterms|isVersionOf|Is Version Of|A related resource of which the described resource is a version, edition, or adaptation.
dcterms|hasVersion|Has Version|A related resource that is a version, edition, or adaptation of the described resource.
dcterms|isReplacedBy|Is Replaced By|A related resource that supplants, displaces, or supersedes the described resource.
dcterms|replaces|Replaces|A related resource that is supplanted, displaced, or superseded by the described resource.
dcterms|isRequiredBy|Is Required By|A related resource that requires the described resource to support its function, delivery, or coherence.
dcterms|requires|Requires|A related resource that is required by the described resource to support its function, delivery, or coherence.
dcterms|isPartOf|Is Part Of|A related resource in which the described resource is physically or logically included.
dcterms|hasPart|Has Part|A related resource that is included either physically or logically in the described resource.
dcterms|isReferencedBy|Is Referenced By|A related resource that references, cites, or otherwise points to the described resource.
dcterms|references|References|A related resource that is referenced, cited, or otherwise pointed to by the described resource.
dcterms|isFormatOf|Is Format Of|A related resource that is substantially the same as the described resource, but in another format.
dcterms|hasFormat|Has Format|A related resource that is substantially the same as the pre-existing described resource, but in another format.
dcterms|conformsTo|Conforms To|An established standard to which the described resource conforms.
dcterms|spatial|Spatial Coverage|Spatial characteristics of the resource.
dcterms|temporal|Temporal Coverage|Temporal characteristics of the resource.
dcterms|mediator|Mediator|An entity that mediates access to the resource and for whom the resource is intended or useful.
dcterms|dateAccepted|Date Accepted|Date of acceptance of the resource.
dcterms|dateCopyrighted|Date Copyrighted|Date of copyright.
dcterms|dateSubmitted|Date Submitted|Date of submission of the resource.
dcterms|educationLevel|Audience Education Level|A class of entity, defined in terms of progression through an educational or training context, for which the described resource is intended.
dcterms|accessRights|Access Rights|Information about who can access the resource or an indication of its security status.
dcterms|bibliographicCitation|Bibliographic Citation|A bibliographic reference for the resource.
dcterms|license|License|A legal document giving official permission to do something with the resource.
dcterms|rightsHolder|Rights Holder|A person or organization owning or managing rights over the resource.
dcterms|provenance|Provenance|A statement of any changes in ownership and custody of the resource since its creation that are significant for its authenticity, integrity, and interpretation.
dcterms|instructionalMethod|Instructional Method|A process, used to engender knowledge, attitudes and skills, that the described resource is designed to support.
dcterms|accrualMethod|Accrual Method|The method by which items are added to a collection.
dcterms|accrualPeriodicity|Accrual Periodicity|The frequency with which items are added to a collection.
dcterms|accrualPolicy|Accrual Policy|The policy governing the addition of items to a collection.
bibo|affirmedBy|affirmedBy|
bibo|annotates|annotates|
bibo|authorList|list of authors|
bibo|citedBy|cited by|
bibo|cites|cites|
bibo|contributorList|list of contributors|
bibo|court|court|
bibo|degree|degree|
bibo|director|director|
bibo|distributor|distributor|
bibo|editor|editor|
bibo|editorList|list of editors|
bibo|interviewee|interviewee|
bibo|interviewer|interviewer|
bibo|issuer|issuer|
bibo|organizer|organizer|
bibo|owner|owner|
bibo|performer|performer|
bibo|presentedAt|presented at|
bibo|presents|presents|
bibo|producer|producer|
bibo|recipient|recipient|
bibo|reproducedIn|reproducedIn|
bibo|reversedBy|reversedBy|
bibo|reviewOf|review of|
bibo|status|status|
bibo|subsequentLegalDecision|subsequentLegalDecision|
bibo|transcriptOf|transcript of|
bibo|translationOf|translation of|
bibo|translator|translator|
bibo|abstract|abstract|
bibo|argued|date argued|
bibo|asin|asin|
bibo|chapter|chapter|
bibo|coden|coden|
bibo|content|content|
bibo|doi|doi|
bibo|eanucc13|eanucc13|
bibo|edition|edition|
bibo|eissn|eissn|
bibo|gtin14|gtin14|
bibo|handle|handle|
bibo|identifier|identifier|
bibo|isbn|isbn|
bibo|isbn10|isbn10|
bibo|isbn13|isbn13|
bibo|issn|issn|
bibo|issue|issue|
bibo|lccn|lccn|
bibo|locator|locator|
bibo|numPages|number of pages|
bibo|numVolumes|number of volumes|
bibo|number|number|
bibo|oclcnum|oclcnum|
bibo|pageEnd|page end|
bibo|pageStart|page start|
bibo|pages|pages|
bibo|pmid|pmid|
bibo|prefixName|prefix name|
bibo|section|section|
bibo|shortDescription|shortDescription|
bibo|shortTitle|short title|
bibo|sici|sici|
bibo|suffixName|suffix name|
bibo|upc|upc|
bibo|uri|uri|
bibo|volume|volume|
foaf|mbox|personal mailbox|
foaf|mbox_sha1sum|sha1sum of a personal mailbox URI name|
foaf|gender|gender|
foaf|geekcode|geekcode|
foaf|dnaChecksum|DNA checksum|
foaf|sha1|sha1sum (hex)|
foaf|based_near|based near|
foaf|title|title|
foaf|nick|nickname|
foaf|jabberID|jabber ID|
foaf|aimChatID|AIM chat ID|
foaf|skypeID|Skype ID|
foaf|icqChatID|ICQ chat ID|
foaf|yahooChatID|Yahoo chat ID|
foaf|msnChatID|MSN chat ID|
foaf|name|name|
foaf|firstName|firstName|
foaf|lastName|lastName|
foaf|givenName|Given name|
foaf|givenname|Given name|
foaf|surname|Surname|
foaf|family_name|family_name|
foaf|familyName|familyName|
foaf|phone|phone|
foaf|homepage|homepage|
foaf|weblog|weblog|
foaf|openid|openid|
foaf|tipjar|tipjar|
foaf|plan|plan|
foaf|made|made|
foaf|maker|maker|
foaf|img|image|
foaf|depiction|depiction|
foaf|depicts|depicts|
foaf|thumbnail|thumbnail|
foaf|myersBriggs|myersBriggs|
foaf|workplaceHomepage|workplace homepage|
foaf|workInfoHomepage|work info homepage|
foaf|schoolHomepage|schoolHomepage|
foaf|knows|knows|
foaf|interest|interest|
foaf|topic_interest|topic_interest|
foaf|publications|publications|
foaf|currentProject|current project|
foaf|pastProject|past project|
foaf|fundedBy|funded by|
foaf|logo|logo|
foaf|topic|topic|
foaf|primaryTopic|primary topic|
foaf|focus|focus|
foaf|isPrimaryTopicOf|is primary topic of|
foaf|page|page|
foaf|theme|theme|
foaf|account|account|
foaf|holdsAccount|account|
foaf|accountServiceHomepage|account service homepage|
foaf|accountName|account name|
foaf|member|member|
foaf|membershipClass|membershipClass|
foaf|birthday|birthday|
foaf|age|age|
foaf|status|status|
"""

_CLASSES = """\
dcterms|Agent|Agent|A resource that acts or has the power to act.
dcterms|AgentClass|Agent Class|A group of agents.
dcterms|BibliographicResource|Bibliographic Resource|A book, article, or other documentary resource.
dcterms|FileFormat|File Format|A digital resource format.
dcterms|Frequency|Frequency|A rate at which something recurs.
dcterms|Jurisdiction|Jurisdiction|The extent or range of judicial, law enforcement, or other authority.
dcterms|LicenseDocument|License Document|A legal document giving official permission to do something with a Resource.
dcterms|LinguisticSystem|Linguistic System|A system of signs, symbols, sounds, gestures, or rules used in communication.
dcterms|Location|Location|A spatial region or named place.
dcterms|LocationPeriodOrJurisdiction|Location, Period, or Jurisdiction|A location, period of time, or jurisdiction.
dcterms|MediaType|Media Type|A file format or physical medium.
dcterms|MediaTypeOrExtent|Media Type or Extent|A media type or extent.
dcterms|MethodOfInstruction|Method of Instruction|A process that is used to engender knowledge, attitudes, and skills.
dcterms|MethodOfAccrual|Method of Accrual|A method by which resources are added to a collection.
dcterms|PeriodOfTime|Period of Time|An interval of time that is named or defined by its start and end dates.
dcterms|PhysicalMedium|Physical Medium|A physical material or carrier.
dcterms|PhysicalResource|Physical Resource|A material thing.
dcterms|Policy|Policy|A plan or course of action by an authority, intended to influence and determine decisions, actions, and other matters.
dcterms|ProvenanceStatement|Provenance Statement|A statement of any changes in ownership and custody of a resource since its creation that are significant for its authenticity, integrity, and interpretation.
dcterms|RightsStatement|Rights Statement|A statement about the intellectual property rights (IPR) held in or over a Resource, a legal document giving official permission to do something with a resource, or a statement about access rights.
dcterms|SizeOrDuration|Size or Duration|A dimension or extent, or a time taken to play or execute.
dcterms|Standard|Standard|A basis for comparison; a reference point against which other things can be evaluated.
dctype|Collection|Collection|An aggregation of resources.
dctype|Dataset|Dataset|Data encoded in a defined structure.
dctype|Event|Event|A non-persistent, time-based occurrence.
dctype|Image|Image|A visual representation other than text.
dctype|InteractiveResource|Interactive Resource|A resource requiring interaction from the user to be understood, executed, or experienced.
dctype|Service|Service|A system that provides one or more functions.
dctype|Software|Software|A computer program in source or compiled form.
dctype|Sound|Sound|A resource primarily intended to be heard.
dctype|Text|Text|A resource consisting primarily of words for reading.
dctype|PhysicalObject|Physical Object|An inanimate, three-dimensional object or substance.
dctype|StillImage|Still Image|A static visual representation.
dctype|MovingImage|Moving Image|A series of visual representations imparting an impression of motion when shown in succession.
bibo|AcademicArticle|Academic Article|A scholarly academic article, typically published in a journal.
bibo|Article|Article|A written composition in prose, usually nonfiction, on a specific topic, forming an independent part of a book or other publication, as a newspaper or magazine.
bibo|AudioDocument|audio document|An audio document; aka record.
bibo|AudioVisualDocument|audio-visual document|An audio-visual document; film, video, and so forth.
bibo|Bill|Bill|Draft legislation presented for discussion to a legal body.
bibo|Book|Book|A written or printed work of fiction or nonfiction, usually on sheets of paper fastened or bound together within covers.
bibo|BookSection|Book Section|A section of a book.
bibo|Brief|Brief|A written argument submitted to a court.
bibo|Chapter|Chapter|A chapter of a book.
bibo|Code|Code|A collection of statutes.
bibo|CollectedDocument|Collected Document|A document that simultaneously contains other documents.
bibo|Collection|Collection|A collection of Documents or Collections
bibo|Conference|Conference|A meeting for consultation or discussion.
bibo|CourtReporter|Court Reporter|A collection of legal cases.
bibo|Document|Document|A document (noun) is a bounded physical representation of body of information designed with the capacity (and usually intent) to communicate. A document may manifest symbolic, diagrammatic or sensory-representational information.
bibo|DocumentPart|document part|a distinct part of a larger document or collected document.
bibo|DocumentStatus|Document Status|The status of the publication of a document.
bibo|EditedBook|Edited Book|An edited book.
bibo|Email|EMail|A written communication addressed to a person or organization and transmitted electronically.
bibo|Event|Event|
bibo|Excerpt|Excerpt|A passage selected from a larger work.
bibo|Film|Film|aka movie.
bibo|Hearing|Hearing|An instance or a session in which testimony and arguments are presented, esp. before an official, as a judge in a lawsuit.
bibo|Image|Image|A document that presents visual or diagrammatic information.
bibo|Interview|Interview|A formalized discussion between two or more people.
bibo|Issue|Issue|something that is printed or published and distributed, esp. a given number of a periodical
bibo|Journal|Journal|A periodical of scholarly journal Articles.
bibo|LegalCaseDocument|Legal Case Document|A document accompanying a legal case.
bibo|LegalDecision|Decision|A document containing an authoritative determination (as a decree or judgment) made after consideration of facts or law.
bibo|LegalDocument|Legal Document|A legal document; for example, a court decision, a brief, and so forth.
bibo|Legislation|Legislation|A legal document proposing or enacting a law or a group of laws.
bibo|Letter|Letter|A written or printed communication addressed to a person or organization and usually transmitted by mail.
bibo|Magazine|Magazine|A periodical of magazine Articles.
bibo|Manual|Manual|A small reference book, especially one giving instructions.
bibo|Manuscript|Manuscript|An unpublished Document, which may also be submitted to a publisher for publication.
bibo|Map|Map|A graphical depiction of geographic features.
bibo|MultiVolumeBook|Multivolume Book|A loose, thematic, collection of Documents, often Books.
bibo|Newspaper|Newspaper|A periodical of documents, usually issued daily or weekly, containing current news, editorials, feature articles, and usually advertising.
bibo|Note|Note|Notes or annotations about a resource.
bibo|Patent|Patent|A document describing the exclusive right granted by a government to an inventor to manufacture, use, or sell an invention for a certain number of years.
bibo|Performance|Performance|A public performance.
bibo|Periodical|Periodical|A group of related documents issued at regular intervals.
bibo|PersonalCommunication|Personal Communication|A communication between an agent and one or more specific recipients.
bibo|PersonalCommunicationDocument|Personal Communication Document|A personal communication manifested in some document.
bibo|Proceedings|Proceedings|A compilation of documents published from an event, such as a conference.
bibo|Quote|Quote|An excerpted collection of words.
bibo|ReferenceSource|Reference Source|A document that presents authoritative reference information, such as a dictionary or encylopedia .
bibo|Report|Report|A document describing an account or statement describing in detail an event, situation, or the like, usually as the result of observation, inquiry, etc..
bibo|Series|Series|A loose, thematic, collection of Documents, often Books.
bibo|Slide|Slide|A slide in a slideshow
bibo|Slideshow|Slideshow|A presentation of a series of slides, usually presented in front of an audience with written text and images.
bibo|Standard|Standard|A document describing a standard
bibo|Statute|Statute|A bill enacted into law.
bibo|Thesis|Thesis|A document created to summarize research findings associated with the completion of an academic degree.
bibo|ThesisDegree|Thesis degree|The academic degree of a Thesis
bibo|Webpage|Webpage|A web page is an online document available (at least initially) on the world wide web.
bibo|Website|Website|A group of Webpages accessible on the Web.
bibo|Workshop|Workshop|A seminar, discussion group, or the like, that emphasizes zxchange of ideas and the demonstration and application of techniques, skills, etc.
foaf|LabelProperty|Label Property|A foaf:LabelProperty is any RDF property with texual values that serve as labels.
foaf|Person|Person|A person.
foaf|Document|Document|A document.
foaf|Organization|Organization|An organization.
foaf|Group|Group|A class of Agents.
foaf|Agent|Agent|An agent (eg. person, group, software or physical artifact).
foaf|Project|Project|A project (a collective endeavour of some kind).
foaf|Image|Image|An image.
foaf|PersonalProfileDocument|PersonalProfileDocument|A personal profile RDF document.
foaf|OnlineAccount|Online Account|An online account.
foaf|OnlineGamingAccount|Online Gaming Account|An online gaming account.
foaf|OnlineEcommerceAccount|Online E-commerce Account|An online e-commerce account.
foaf|OnlineChatAccount|Online Chat Account|An online chat account.
"""


def _terms(table: str) -> tuple[Term, ...]:
    by_prefix = {v.prefix: v for v in VOCABULARIES}
    rows = []
    for number, line in enumerate(table.splitlines(), start=1):
        prefix, local_name, label, comment = line.split("|", 3)
        rows.append(Term(number, by_prefix[prefix], local_name, label, comment or None))
    return tuple(rows)


PROPERTIES = _terms(_PROPERTIES)
RESOURCE_CLASSES = _terms(_CLASSES)
PROPERTY_BY_ID = {p.id: p for p in PROPERTIES}
PROPERTY_BY_TERM = {p.term: p for p in PROPERTIES}
CLASS_BY_ID = {c.id: c for c in RESOURCE_CLASSES}
CLASS_BY_TERM = {c.term: c for c in RESOURCE_CLASSES}
VOCABULARY_BY_ID = {v.id: v for v in VOCABULARIES}

TITLE_PROPERTY_ID = 1

# The "Base Resource" template of a fresh install: (property id, alternate label), in order.
BASE_TEMPLATE_ID = 1
BASE_TEMPLATE_LABEL = "Base Resource"
BASE_TEMPLATE_PROPERTIES = (
    (1, None), (15, None), (8, None), (2, None), (7, None), (4, None), (9, None), (12, None),
    (40, "Place"), (5, None), (17, None), (6, None), (25, None), (10, None), (13, None),
    (29, None), (30, None), (50, None), (3, None), (41, None),
)  # fmt: skip
