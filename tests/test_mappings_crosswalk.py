"""A library's own crosswalk file: extending the built-ins, and mistakes reported by line."""

from __future__ import annotations

from pathlib import Path

import pymarc
import pytest

from kitab.mappings import CrosswalkError, builtin_names, load_crosswalk, map_record
from kitab.model import Flavour, Record, SourcePosition


def urait(data_dir: Path) -> Record:
    """The Urait RUSMARC record, given a local 999 field the way a library system adds one."""
    with (data_dir / "unimarc-rusmarc-utf8-856-urait.iso").open("rb") as stream:
        marc = next(iter(pymarc.MARCReader(stream, to_unicode=True, force_utf8=True)))
    marc.add_field(
        pymarc.Field(
            tag="999",
            indicators=pymarc.Indicators(" ", " "),
            subfields=[
                pymarc.Subfield("a", "Фонд кафедры педагогики"),
                pymarc.Subfield("b", "инв. 4411"),
            ],
        )
    )
    return Record(marc, Flavour.UNIMARC, "RU/URAIT/363150", SourcePosition("ur.iso", 1, 0), "utf-8")


def write(tmp_path: Path, text: str, name: str = "local.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtins_are_shipped():
    assert {"marc21-dc", "unimarc-dc"} <= set(builtin_names())
    assert load_crosswalk("marc21-dc").flavour is Flavour.MARC21
    assert load_crosswalk("unimarc-dc").flavour is Flavour.UNIMARC


def test_library_file_extends_adds_a_local_field_overrides_and_drops(tmp_path, data_dir):
    path = write(
        tmp_path,
        """
extends = "unimarc-dc"
drop = ["subject-uncontrolled"]

[[map]]
id = "local-holdings-note"
tag = "999"
subfields = "ab"
join = " — "
to = "dc.description"

[[map]]
id = "local-inventory"
tag = "999"
subfields = "b"
to = "dc.identifier.other"

# replaces the built-in rule of the same id: initials rather than the full forename
[[map]]
id = "author-personal"
tag = "700"
subfields = "ab"
join = " "
per-subfield = true
to = "dc.contributor.author"
""",
    )
    local = load_crosswalk(path)
    assert local.flavour is Flavour.UNIMARC
    md = map_record(urait(data_dir), local)
    assert [v.value for v in md["dc.description"]] == ["Фонд кафедры педагогики — инв. 4411"]
    assert [v.value for v in md["dc.identifier.other"]] == [
        "kitab:RU/URAIT/363150",
        "инв. 4411",
    ]
    assert [v.value for v in md["dc.contributor.author"]] == ["Маралов В. Г."]
    assert "dc.subject" not in md  # the 610s went with the dropped rule
    # everything else still comes from the built-in
    builtin = map_record(urait(data_dir), load_crosswalk("unimarc-dc"))
    assert md["dc.title"] == builtin["dc.title"]
    assert md["dc.identifier.uri"] == builtin["dc.identifier.uri"]
    # the rule replaced in place keeps the built-in's position
    ids = [rule.id for rule in local.rules]
    assert ids.index("author-personal") < ids.index("local-holdings-note")


def test_extends_a_file_by_relative_path(tmp_path, data_dir):
    write(tmp_path, 'extends = "unimarc-dc"\ndrop = ["uri"]\n', "district.toml")
    branch = write(tmp_path, 'extends = "district.toml"\ndrop = ["abstract"]\n', "branch.toml")
    md = map_record(urait(data_dir), load_crosswalk(branch))
    assert "dc.identifier.uri" not in md and "dc.description.abstract" not in md
    assert md["dc.title"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            'flavour = "marc21"\n\n[[map]]\ntag = "245"\nsubfields = "a"\nto = "dc.title"\n'
            'transforms = ["isbd-trim", "titlecase"]\n',
            7,
            "unknown transform 'titlecase'",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nsubfields = "a"\nto = "dc.title"\n\n'
            '[[map]]\ntag = "24"\nsubfields = "a"\nto = "dc.title"\n',
            8,
            "tag must be three digits",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nsubfields = "a$"\nto = "dc.title"\n',
            4,
            "not subfield codes: '$'",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nsubfields = "a"\nto = "dc.titel"\n',
            5,
            "not a Dublin Core element",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nsubfeilds = "a"\nto = "dc.title"\n',
            4,
            "unknown key 'subfeilds'",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "008"\nsubfields = "a"\nto = "dc.date"\n',
            4,
            "control field",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nind2 = "X"\n'
            'subfields = "a"\nto = "dc.title"\n',
            4,
            "indicator",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "008"\npositions = "37-35"\nto = "dc.language"\n',
            4,
            "end before they start",
        ),
        (
            'flavour = "marc21"\n[[map]]\ntag = "245"\nsubfields = "a"\nto = "dc.title"\n'
            'split = "yes"\n',
            6,
            "split must be true or false",
        ),
        ('flavour = "marc21"\n[[map]\ntag = "245"\n', 2, "not valid TOML"),
        ('flavour = "marc21"\nmaps = []\n', 2, "unknown key 'maps'"),
        ('flavour = "marc12"\n', 1, "flavour must be"),
        ('extends = "unimarc-dc"\ndrop = ["no-such-rule"]\n', 2, "'no-such-rule'"),
        ('extends = "marc21-dc"\nflavour = "unimarc"\n', 2, "differs from"),
    ],
)
def test_mistakes_name_the_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(CrosswalkError) as caught:
        load_crosswalk(path)
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_unknown_name_lists_the_builtins(tmp_path):
    with pytest.raises(CrosswalkError) as caught:
        load_crosswalk("marc21-dublin")
    assert "marc21-dc" in str(caught.value) and "unimarc-dc" in str(caught.value)


def test_missing_flavour_without_extends(tmp_path):
    path = write(tmp_path, '[[map]]\ntag = "245"\nsubfields = "a"\nto = "dc.title"\n')
    with pytest.raises(CrosswalkError, match="missing flavour"):
        load_crosswalk(path)
