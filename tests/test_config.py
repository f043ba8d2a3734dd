"""kitab.toml: the documented shape loads; every mistake names its key."""

import pytest

from kitab.config import ConfigError, load_config

GOOD = """
[catalogue]
path = "exports"
encoding = "cp1251"

[scans]
path = "scans"
match = ["control-number", "isbn", "field:852$p"]

[sync]
concurrency = 8
conflicts = "catalogue-wins"

[targets.district]
kind = "dspace"
url = "http://127.0.0.1:8080/server/"
collection = "123456789/2"
user = "admin@example.org"
password_env = "KITAB_DSPACE_PASSWORD"
[[targets.district.route]]
when = { record_type = "as" }
collection = "123456789/3"

[targets.gallery]
kind = "omeka"
url = "http://127.0.0.1:8081"
key_identity_env = "KITAB_OMEKA_KEY_IDENTITY"
key_credential_env = "KITAB_OMEKA_KEY_CREDENTIAL"
item_set = 1

[targets.batch]
kind = "saf"
path = "saf-out"

[[rights]]
when = { field = "506$a", matches = "(?i)restricted" }
files = "private"
"""


def write(tmp_path, text):
    file = tmp_path / "kitab.toml"
    file.write_text(text, encoding="utf-8")
    return file


def test_documented_shape_loads_with_paths_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.catalogue.path == tmp_path / "exports"
    assert config.catalogue.encoding == "cp1251"
    assert config.scans.match == ("control-number", "isbn", "field:852$p")
    assert config.concurrency == 8 and config.conflict_policy == "catalogue-wins"
    district = config.targets["district"]
    assert district.url == "http://127.0.0.1:8080/server"
    assert district.container == "123456789/2"
    assert district.password.env == "KITAB_DSPACE_PASSWORD"
    assert district.routes[0].when.record_type == "as"
    assert district.routes[0].container == "123456789/3"
    assert config.targets["gallery"].container == "1"
    assert config.targets["batch"].path == tmp_path / "saf-out"
    assert config.rights[0].files == "private"
    assert config.rights[0].when.matches.search("Restricted access")
    assert config.state_path == tmp_path / ".kitab" / "state.sqlite"
    assert [t.name for t in config.target(None)] == ["district", "gallery", "batch"]
    with pytest.raises(ConfigError, match="no target named 'nope'"):
        config.target("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('kind = "dspace"', 'kind = "dspac"'), r"targets\.district\.kind: expected one of"),
        (("password_env", "passwrd_env"), r"targets\.district\.passwrd_env: unknown key"),
        (
            ('password_env = "KITAB_DSPACE_PASSWORD"', 'password = "hunter2"'),
            r"targets\.district\.password: secrets do not belong",
        ),
        (("concurrency = 8", "concurrency = 0"), r"sync\.concurrency: expected 1 to 64"),
        (("concurrency = 8", 'concurrency = "8"'), r"sync\.concurrency: expected int"),
        (('"isbn"', '"title"'), r"scans\.match: unknown strategy 'title'"),
        (('field = "506$a"', 'field = "5066"'), r"rights\[0\]\.when\.field: expected TAG"),
        (('matches = "(?i)restricted"', 'matches = "("'), r"rights\[0\]\.when\.matches"),
        (("[catalogue]\npath", "[catalogue]\npth"), r"catalogue\.path: is required"),
    ],
)
def test_a_mistake_names_the_key(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, GOOD.replace(old, new, 1)))


def test_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"line 2"):
        load_config(write(tmp_path, "[catalogue]\npath = \n"))
