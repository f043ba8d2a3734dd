"""Which DSpace release the sandbox impersonates, and the behaviours that differ between them.

Each flag is a difference listed in the reference notes (section 7); the connector has to cope
with every one of them, so the tests run the sandbox as several releases.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED = "7.6.x, 8.x or 9.x"


@dataclass(frozen=True)
class Flavour:
    version: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Flavour:
        try:
            parts = tuple(int(p) for p in text.strip().split("."))
        except ValueError:
            raise ValueError(f"not a DSpace version: {text!r} (expected {SUPPORTED})") from None
        parts = (*parts, 0, 0)[:3]
        if parts[:2] != (7, 6) and parts[0] not in (8, 9):
            raise ValueError(f"DSpace {text} is not modelled (expected {SUPPORTED})")
        return cls(parts)

    @property
    def label(self) -> str:
        return ".".join(str(p) for p in self.version).removesuffix(".0")

    @property
    def csrf_on_get(self) -> bool:
        """False where #9774 applies: ordinary GETs issue no CSRF token (8.0-8.2, 9.0-9.1)."""
        v = self.version
        return not ((8, 0, 0) <= v < (8, 3, 0) or (9, 0, 0) <= v < (9, 2, 0))

    @property
    def has_csrf_endpoint(self) -> bool:
        return self.version >= (7, 6, 2)

    @property
    def unknown_field_422(self) -> bool:
        """Since 7.6.4, 8.2 and 9.1 an unknown field in PATCH is 422; before, 400 (and wiping)."""
        major = self.version[0]
        floor = {7: (7, 6, 4), 8: (8, 2, 0), 9: (9, 1, 0)}[major]
        return self.version >= floor

    @property
    def instant_dates(self) -> bool:
        """9.x serialises lastModified as an Instant ("Z"), earlier releases as a Date."""
        return self.version[0] >= 9

    @property
    def lenient_json(self) -> bool:
        """9.x ignores unknown properties in item bodies; 7.x/8.x refuse them."""
        return self.version[0] >= 9

    @property
    def spring_413(self) -> bool:
        return self.version[0] >= 8
