"""C2SP tlog-checkpoint: body format, signing, bidder cosignatures and the acceptance rules."""

from __future__ import annotations

import base64

import pytest

from dealvault.audit import merkle as m
from dealvault.audit import note as n
from dealvault.audit.checkpoint import (
    Checkpoint,
    checkpoint_of,
    cosign_checkpoint,
    open_checkpoint,
    sign_checkpoint,
)
from dealvault.errors import IntegrityError, Invalid

ORIGIN = "dealvault.example/deal-7"
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def keys(name: str, sig_type: int = n.SIG_ED25519) -> tuple[n.Signer, n.Verifier]:
    skey, vkey = n.generate_signer(name, sig_type=sig_type)
    return n.Signer.from_key(skey), n.Verifier.from_key(vkey)


def test_spec_example_round_trip() -> None:
    cp = Checkpoint.parse(SPEC_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SPEC_BODY
    assert Checkpoint.parse(SPEC_BODY.encode()) == cp


def test_extensions_and_empty_tree() -> None:
    cp = Checkpoint(ORIGIN, 0, m.EMPTY_ROOT, ("ext one", "ext two"))
    body = cp.body()
    assert body == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n"
    assert Checkpoint.parse(body) == cp


@pytest.mark.parametrize(
    "body",
    [
        "origin\n1\n",  # too few lines
        "origin\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # short root
        "origin\n1\n" + base64.b64encode(bytes(32)).decode(),  # no final newline
        "origin\n1\n" + base64.b64encode(bytes(32)).decode()[:-1] + "\n",
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
        "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n",  # empty extension
        "origin\n 1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ],
)
def test_malformed_bodies(body: str) -> None:
    with pytest.raises(Invalid):
        Checkpoint.parse(body)


def test_constructor_validates() -> None:
    with pytest.raises(Invalid):
        Checkpoint("a\nb", 1, bytes(32))
    with pytest.raises(Invalid):
        Checkpoint("a", -1, bytes(32))
    with pytest.raises(Invalid):
        Checkpoint("a", 1, bytes(31))
    with pytest.raises(Invalid):
        Checkpoint("a", 1, bytes(32), ("",))


def test_sign_and_open() -> None:
    log, log_v = keys(ORIGIN)
    cp = Checkpoint(ORIGIN, 5, m.leaf_hash(b"r"))
    note = sign_checkpoint(cp, signer=log)
    assert note.startswith((cp.body() + "\n\u2014 " + ORIGIN).encode())
    opened = open_checkpoint(note, log_verifier=log_v)
    assert opened.checkpoint == cp
    assert opened.cosignatures == ()
    assert checkpoint_of(note) == cp
    other, _ = keys("someone.example/else")
    with pytest.raises(Invalid):
        sign_checkpoint(cp, signer=other)


def test_wrong_log_key_or_origin_fails() -> None:
    log, log_v = keys(ORIGIN)
    _, impostor_v = keys(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), signer=log)
    with pytest.raises(IntegrityError):
        open_checkpoint(note, log_verifier=impostor_v)
    with pytest.raises(IntegrityError):
        open_checkpoint(note, log_verifier=log_v, origin="dealvault.example/deal-8")
    tampered = note.replace(b"\n1\n", b"\n2\n", 1)
    with pytest.raises(IntegrityError):
        open_checkpoint(tampered, log_verifier=log_v)


def test_bidder_cosigns_seller_checkpoint() -> None:
    log, log_v = keys(ORIGIN)
    bidder, bidder_v = keys("bidder-a.example/witness", n.SIG_COSIGNATURE_V1)
    counsel, counsel_v = keys("counsel.example/witness", n.SIG_COSIGNATURE_V1)
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, m.leaf_hash(b"x")), signer=log)
    once = cosign_checkpoint(note, cosigner=bidder, log_verifier=log_v, timestamp=1_700_000_000)
    twice = cosign_checkpoint(once, cosigner=counsel, log_verifier=log_v, timestamp=1_700_000_100)
    opened = open_checkpoint(
        twice, log_verifier=log_v, cosigners=[bidder_v, counsel_v], min_cosignatures=2
    )
    assert [(c.name, c.timestamp) for c in opened.cosignatures] == [
        ("bidder-a.example/witness", 1_700_000_000),
        ("counsel.example/witness", 1_700_000_100),
    ]
    # a verifier who does not know the cosigners still accepts the log signature
    assert open_checkpoint(twice, log_verifier=log_v).cosignatures == ()
    with pytest.raises(IntegrityError):
        open_checkpoint(
            once, log_verifier=log_v, cosigners=[bidder_v, counsel_v], min_cosignatures=2
        )


def test_bad_cosignature_is_reported_and_rejected() -> None:
    log, log_v = keys(ORIGIN)
    bidder, bidder_v = keys("bidder-a.example/witness", n.SIG_COSIGNATURE_V1)
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, m.leaf_hash(b"y")), signer=log)
    cosigned = cosign_checkpoint(note, cosigner=bidder, log_verifier=log_v, timestamp=10)
    text, sigs = n.parse_note(cosigned)
    sig = bytearray(sigs[1].signature)
    sig[20] ^= 1  # inside the Ed25519 signature, after the 8-byte timestamp
    forged = n.NoteSignature(sigs[1].name, sigs[1].key_id, bytes(sig))
    bad_note = text + "\n" + sigs[0].line() + forged.line()
    _, checks = n.open_note(bad_note, [log_v, bidder_v])
    assert [c.status for c in checks] == [n.SignatureStatus.VERIFIED, n.SignatureStatus.BAD]
    with pytest.raises(IntegrityError):
        open_checkpoint(bad_note, log_verifier=log_v, cosigners=[bidder_v])


def test_cosigner_checks_log_signature_first_and_key_types() -> None:
    log, log_v = keys(ORIGIN)
    bidder, _ = keys("bidder-a.example/witness", n.SIG_COSIGNATURE_V1)
    _, stranger_v = keys(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, bytes(32)), signer=log)
    with pytest.raises(IntegrityError):
        cosign_checkpoint(note, cosigner=bidder, log_verifier=stranger_v)
    with pytest.raises(Invalid):
        cosign_checkpoint(note, cosigner=log, log_verifier=log_v)  # not a 0x04 key
    with pytest.raises(Invalid):
        open_checkpoint(note, log_verifier=log_v, cosigners=[log_v])
    with pytest.raises(Invalid):
        open_checkpoint(note, log_verifier=log_v, min_cosignatures=1)
