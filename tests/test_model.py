from kitab.model import FileRef, identity_value, key_from_identity


def test_identity_round_trip():
    assert identity_value("AZ-BAK:000123") == "kitab:AZ-BAK:000123"
    assert key_from_identity("kitab:AZ-BAK:000123") == "AZ-BAK:000123"
    assert key_from_identity("urn:isbn:123") is None
    assert key_from_identity("kitab:") is None


def test_file_checksums_are_streamed_and_match_hashlib(tmp_path):
    import hashlib

    scan = tmp_path / "page 1.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 5000)
    ref = FileRef(scan)
    assert ref.name == "page 1.pdf"
    assert ref.mimetype == "application/pdf"
    assert ref.size == scan.stat().st_size
    assert ref.md5 == hashlib.md5(scan.read_bytes()).hexdigest()
    assert ref.sha256 == hashlib.sha256(scan.read_bytes()).hexdigest()
