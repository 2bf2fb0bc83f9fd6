"""What a PII detector finds: an `Entity` (its type and where it is in the text)."""

from __future__ import annotations

from dataclasses import dataclass

# structured types are validated (checksums, ranges); PERSON is found from context cues
EMAIL = "EMAIL"
PHONE = "PHONE"
CN_ID = "CN_ID"  # mainland resident identity card number, 18 characters with checksum
CARD = "CARD"  # bank or credit card number, Luhn-valid
IP = "IP"  # IPv4 or IPv6
PASSPORT = "PASSPORT"
PERSON = "PERSON"

STRUCTURED = (EMAIL, PHONE, CN_ID, CARD, IP, PASSPORT)
TYPES = (*STRUCTURED, PERSON)


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    start: int
    end: int
    text: str
