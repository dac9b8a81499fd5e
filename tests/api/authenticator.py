"""A software WebAuthn authenticator for the tests: an ES256 key pair, "none" attestation,
the CBOR and signatures a browser's authenticator would produce (W3C WebAuthn Level 2)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    origin: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        doc = {"type": kind, "challenge": challenge, "origin": origin or self.origin,
               "crossOrigin": False}  # fmt: skip
        return json.dumps(doc).encode()

    def _cose_key(self) -> bytes:
        nums = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}
        )

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential for ``options``."""
        rp_id = options["rp"]["id"]
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + struct.pack(">I", self.sign_count)
            + bytes(16)  # AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        att = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cdj = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att)},
            "type": "public-key",
            "clientExtensionResults": {},
        }

    def get(
        self, options: dict[str, Any], *, rp_id: str, origin: str | None = None
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion over the challenge."""
        self.sign_count += 1
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([0x05])
            + struct.pack(">I", self.sign_count)
        )
        cdj = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "response": {
                "clientDataJSON": b64u(cdj),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
            },
            "type": "public-key",
            "clientExtensionResults": {},
        }
