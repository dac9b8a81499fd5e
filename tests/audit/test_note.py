"""C2SP signed notes: Go sumdb/note known answers, key formats, malformed notes, cosignatures."""

from __future__ import annotations

import base64
import struct

import pytest

from dealvault.audit import note as n
from dealvault.errors import IntegrityError, Invalid

# Known answers from golang.org/x/mod/sumdb/note (note.go documentation and note_test.go).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)
# transparency-dev/formats note_cosigv1_test.go: a type 0x01 key whose base64 holds '+',
# and a native type 0x04 (cosignature/v1) verifier key.
TEST_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# c2sp.org/tlog-cosignature example (no public key is published for it).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJ"
    "sX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_go_known_answer_signature() -> None:
    signer = n.Signer.from_key(PETER_SKEY)
    assert signer.key_id == 0xC74F20A3
    assert n.sign(TEXT, [signer]).decode() == TEXT + "\n" + PETER_SIG
    assert signer.key_string() == PETER_SKEY
    assert signer.verifier().key_string() == PETER_VKEY


def test_known_key_ids() -> None:
    for vkey in (PETER_VKEY, ENOCH_VKEY, TEST_VKEY, REMORA_VKEY):
        v = n.Verifier.from_key(vkey)
        name, hex_id, _ = vkey.split("+", 2)
        assert v.key_id == int(hex_id, 16)
        assert n.key_id(name=name, sig_type=v.sig_type, public_key=v.public_key) == v.key_id
        assert v.key_string() == vkey
    assert n.Verifier.from_key(REMORA_VKEY).sig_type == n.SIG_COSIGNATURE_V1
    converted = n.cosignature_verifier_key(TEST_VKEY)
    assert converted.startswith("TEST+") and converted != TEST_VKEY
    assert n.Verifier.from_key(converted).sig_type == n.SIG_COSIGNATURE_V1


def test_go_open_one_verified_one_unknown() -> None:
    peter, enoch = n.Verifier.from_key(PETER_VKEY), n.Verifier.from_key(ENOCH_VKEY)
    msg = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    text, checks = n.open_note(msg.encode(), [peter])
    assert text == TEXT
    assert [(c.name, c.key_id, c.status) for c in checks] == [
        ("PeterNeumann", 0xC74F20A3, n.SignatureStatus.VERIFIED),
        ("EnochRoot", 0xAF0CFE78, n.SignatureStatus.UNKNOWN),
    ]
    _, checks = n.open_note(msg, [peter, enoch])
    assert all(c.status is n.SignatureStatus.VERIFIED for c in checks)
    with pytest.raises(IntegrityError):
        n.open_note(msg, [])


def test_bad_signature_is_reported_and_lone_bad_signature_fails() -> None:
    peter = n.Verifier.from_key(PETER_VKEY)
    corrupt = PETER_SIG[:60] + "ABCD" + PETER_SIG[64:]
    with pytest.raises(IntegrityError):
        n.open_note(TEXT + "\n" + corrupt, [peter])
    enoch = n.Verifier.from_key(ENOCH_VKEY)
    bad_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[64:]
    _, checks = n.open_note(TEXT + "\n" + PETER_SIG + bad_enoch, [peter, enoch])
    assert [c.status for c in checks] == [n.SignatureStatus.VERIFIED, n.SignatureStatus.BAD]


def test_same_name_or_same_id_alone_is_unknown() -> None:
    skey, _ = n.generate_signer("PeterNeumann")  # same name, other key ID
    other = n.Signer.from_key(skey)
    peter = n.Verifier.from_key(PETER_VKEY)
    signed = n.add_signatures(n.sign(TEXT, [other]), [n.Signer.from_key(PETER_SKEY)])
    _, checks = n.open_note(signed, [peter])
    assert {(c.key_id, c.status) for c in checks} == {
        (other.key_id, n.SignatureStatus.UNKNOWN),
        (0xC74F20A3, n.SignatureStatus.VERIFIED),
    }


def test_round_trip_and_cosigning_keeps_existing_lines() -> None:
    signer = n.Signer.from_key(n.generate_signer("log.example/a")[0])
    skey2, vkey2 = n.generate_signer("bidder.example/b")
    signed = n.sign("hello\n\nworld\n", [signer])
    both = n.add_signatures(signed, [n.Signer.from_key(skey2)])
    assert both.startswith(signed)
    text, checks = n.open_note(both, [signer.verifier(), n.Verifier.from_key(vkey2)])
    assert text == "hello\n\nworld\n"
    assert [c.name for c in checks] == ["log.example/a", "bidder.example/b"]
    assert all(c.status is n.SignatureStatus.VERIFIED for c in checks)
    # re-signing with a key already present replaces its line instead of adding one
    again = n.add_signatures(both, [signer])
    assert again.decode().count("log.example/a") == 1


@pytest.mark.parametrize(
    "bad",
    [
        TEXT,  # no blank line, no signature
        TEXT + "\n",  # blank line but no signature
        TEXT + "\n" + PETER_SIG[:-1],  # signature line without newline
        "\x01" + TEXT + "\n" + PETER_SIG,  # control character
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter Neumann"),  # space in name
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),  # '+' in name
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("x08go", "x08g!"),  # bad base64
        TEXT + "\n" + PETER_SIG.replace("JnAM=", "JnAM"),  # missing padding
        TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",  # too short for key ID + signature
        TEXT + "\n" + "- PeterNeumann x08g\n",  # hyphen, not em dash
        TEXT + "\n" + PETER_SIG * (n.MAX_SIGNATURES + 1),
    ],
)
def test_malformed_notes_are_rejected(bad: str) -> None:
    with pytest.raises(Invalid):
        n.open_note(bad, [n.Verifier.from_key(PETER_VKEY)])


def test_invalid_utf8_and_text_rules() -> None:
    with pytest.raises(Invalid):
        n.open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), [])
    signer = n.Signer.from_key(PETER_SKEY)
    with pytest.raises(Invalid):
        n.sign("no newline", [signer])
    with pytest.raises(Invalid):
        n.sign("tab\there\n", [signer])
    with pytest.raises(Invalid):
        n.sign(TEXT, [signer, signer])
    with pytest.raises(Invalid):
        n.sign(TEXT, [])


@pytest.mark.parametrize(
    "key",
    [
        PETER_VKEY[:-1],
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),  # wrong key ID
        PETER_VKEY.replace("c74f20a3", "c74f20a"),  # short hex
        PETER_VKEY.replace("+ARpc", "+AhRpc"),  # bad base64 length
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown type
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann",
        "",
    ],
)
def test_malformed_verifier_keys(key: str) -> None:
    with pytest.raises(Invalid):
        n.Verifier.from_key(key)


@pytest.mark.parametrize(
    "key",
    [
        PETER_SKEY[len("PRIVATE+") :],
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),
        PETER_SKEY.replace("PRIVATE", "PUBLIC"),
        PETER_SKEY[:-2],
    ],
)
def test_malformed_signer_keys(key: str) -> None:
    with pytest.raises(Invalid):
        n.Signer.from_key(key)


def test_secrets_stay_out_of_repr() -> None:
    skey, _ = n.generate_signer("log.example/secret")
    signer = n.Signer.from_key(skey)
    assert skey.split("+", 4)[4] not in repr(signer)
    assert "PRIVATE" not in repr(signer)


def test_ambiguous_verifiers_are_refused() -> None:
    peter = n.Verifier.from_key(PETER_VKEY)
    fake = n.Verifier(name="PeterNeumann", public_key=bytes(32))
    fake.key_id = peter.key_id  # key IDs differ normally; force a clash by hand
    with pytest.raises(Invalid):
        n.open_note(TEXT + "\n" + PETER_SIG, [peter, fake])
    n.open_note(TEXT + "\n" + PETER_SIG, [peter, n.Verifier.from_key(PETER_VKEY)])


def test_cosignature_sign_and_verify() -> None:
    skey, vkey = n.generate_signer("bidder.example/w1", sig_type=n.SIG_COSIGNATURE_V1)
    assert skey.startswith("PRIVATE+KEY+bidder.example/w1+")
    cosigner = n.Signer.from_key(skey)
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    body = SPEC_CHECKPOINT.split("\n\n")[0] + "\n"
    signed = n.sign(body, [cosigner], timestamp=1679315147)
    _, sigs = n.parse_note(signed)
    stamp, sig = sigs[0].signature[:8], sigs[0].signature[8:]
    assert struct.unpack(">Q", stamp)[0] == 1679315147 and len(sig) == 64
    # the signed message is exactly the tlog-cosignature/v1 one
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(n.Verifier.from_key(vkey).public_key)
    public.verify(sig, b"cosignature/v1\ntime 1679315147\n" + body.encode())
    _, checks = n.open_note(signed, [n.Verifier.from_key(vkey)])
    assert checks[0].status is n.SignatureStatus.VERIFIED
    assert checks[0].timestamp == 1679315147
    # the same key as a plain Ed25519 verifier has another key ID: unknown, so no valid sig
    plain = n.Verifier(name=cosigner.name, public_key=n.Verifier.from_key(vkey).public_key)
    with pytest.raises(IntegrityError):
        n.open_note(signed, [plain])


def test_cosignature_timestamp_is_signed() -> None:
    skey, vkey = n.generate_signer("bidder.example/w1", sig_type=n.SIG_COSIGNATURE_V1)
    signed = n.sign("o\n1\nAA==\n", [n.Signer.from_key(skey)], timestamp=1000).decode()
    text, sigs = n.parse_note(signed)
    first = sigs[0]
    moved = n.NoteSignature(first.name, first.key_id, struct.pack(">Q", 1001) + first.signature[8:])
    with pytest.raises(IntegrityError):
        n.open_note(text + "\n" + moved.line(), [n.Verifier.from_key(vkey)])
    with pytest.raises(Invalid):
        n.sign("o\n", [n.Signer.from_key(skey)], timestamp=-1)


def test_spec_cosignature_example_framing() -> None:
    text, sigs = n.parse_note(SPEC_CHECKPOINT)
    assert text.count("\n") == 3
    witness = sigs[1]
    assert witness.name == "witness.example.com/w1"
    assert witness.key_id == 0x8D66CF3F
    assert len(witness.signature) == 72
    assert struct.unpack(">Q", witness.signature[:8])[0] == 1679315147
    assert "".join(s.line() for s in sigs) == SPEC_CHECKPOINT.split("\n\n", 1)[1]
