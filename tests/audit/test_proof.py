"""C2SP tlog-proof: format, parse, the spec example, and verification against tampering."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from dealvault.audit import merkle as m
from dealvault.audit import note as n
from dealvault.audit.checkpoint import Checkpoint, cosign_checkpoint, sign_checkpoint
from dealvault.audit.proof import (
    PROOF_HEADER,
    build_proof,
    format_proof,
    parse_proof,
    verify_proof,
)
from dealvault.errors import IntegrityError, Invalid

ORIGIN = "dealvault.example/deal-7"
# The example of c2sp.org/tlog-proof (its signatures are elided there, so only parsed here).
SPEC_EXAMPLE = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

\u2014 example.com/fancylog hI2DJw[...]1roloI=
"""


class Log:
    def __init__(self, events: int) -> None:
        skey, vkey = n.generate_signer(ORIGIN)
        self.signer, self.verifier = n.Signer.from_key(skey), n.Verifier.from_key(vkey)
        self.events = [f'{{"event":{i}}}'.encode() for i in range(events)]
        self.store = m.MemoryNodeStore()
        m.append_leaves(self.store, [m.leaf_hash(e) for e in self.events])
        size = len(self.events)
        checkpoint = Checkpoint(ORIGIN, size, m.root_at(self.store, size))
        self.note = sign_checkpoint(checkpoint, signer=self.signer)


@pytest.fixture(scope="module")
def log() -> Log:
    return Log(1000)


def test_spec_example_parses() -> None:
    proof = parse_proof(SPEC_EXAMPLE)
    assert proof.index == 73894
    assert len(proof.path) == 5 and all(len(h) == 32 for h in proof.path)
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.checkpoint_note.startswith(b"example.com/fancylog\n109482\n")
    again = format_proof(
        index=proof.index, path=proof.path, checkpoint_note=proof.checkpoint_note, extra=proof.extra
    )
    assert again.decode() == SPEC_EXAMPLE


def test_round_trip_and_verify(log: Log) -> None:
    text = build_proof(log.store, index=517, checkpoint_note=log.note)
    assert text.startswith(f"{PROOF_HEADER}\nindex 517\n".encode())
    assert b"extra" not in text.split(b"\n\n")[0]
    parsed = parse_proof(text)
    assert parsed.index == 517 and parsed.extra is None and parsed.checkpoint_note == log.note
    assert list(parsed.path) == m.inclusion_proof(log.store, 517, 1000)
    assert format_proof(index=517, path=parsed.path, checkpoint_note=log.note) == text
    verified = verify_proof(proof_text=text, leaf_data=log.events[517], log_verifier=log.verifier)
    assert verified.index == 517 and verified.checkpoint.size == 1000
    assert verified.leaf_hash == m.leaf_hash(log.events[517])
    verify_proof(
        proof_text=text.decode(), leaf_hash=m.leaf_hash(log.events[517]), log_verifier=log.verifier
    )


def test_extra_and_empty_path() -> None:
    single = Log(1)
    text = build_proof(single.store, index=0, checkpoint_note=single.note, extra=b"ctx")
    assert text.split(b"\n")[1] == b"extra " + base64.b64encode(b"ctx")
    verified = verify_proof(
        proof_text=text, leaf_data=single.events[0], log_verifier=single.verifier
    )
    assert verified.extra == b"ctx"
    assert parse_proof(text).path == ()


def test_altered_leaf_index_hash_or_signature_fail(log: Log) -> None:
    text = build_proof(log.store, index=300, checkpoint_note=log.note)
    verify_proof(proof_text=text, leaf_data=log.events[300], log_verifier=log.verifier)
    with pytest.raises(IntegrityError):
        verify_proof(proof_text=text, leaf_data=log.events[301], log_verifier=log.verifier)
    with pytest.raises(IntegrityError):
        verify_proof(
            proof_text=text.replace(b"index 300", b"index 301"),
            leaf_data=log.events[300],
            log_verifier=log.verifier,
        )
    lines = text.split(b"\n")
    first = base64.b64decode(lines[2])
    lines[2] = base64.b64encode(bytes([first[0] ^ 1]) + first[1:])
    with pytest.raises(IntegrityError):
        verify_proof(
            proof_text=b"\n".join(lines), leaf_data=log.events[300], log_verifier=log.verifier
        )
    resized = text.replace(b"\n1000\n", b"\n1001\n")
    with pytest.raises(IntegrityError):
        verify_proof(proof_text=resized, leaf_data=log.events[300], log_verifier=log.verifier)
    other_v = n.Verifier.from_key(n.generate_signer(ORIGIN)[1])
    with pytest.raises(IntegrityError):
        verify_proof(proof_text=text, leaf_data=log.events[300], log_verifier=other_v)
    dropped = b"\n".join(lines[:2] + lines[3:])
    with pytest.raises(IntegrityError):
        verify_proof(proof_text=dropped, leaf_data=log.events[300], log_verifier=log.verifier)


def test_witness_policy(log: Log) -> None:
    skey, vkey = n.generate_signer("bidder-a.example/witness", sig_type=n.SIG_COSIGNATURE_V1)
    bidder_v = n.Verifier.from_key(vkey)
    cosigned = cosign_checkpoint(
        log.note, cosigner=n.Signer.from_key(skey), log_verifier=log.verifier
    )
    text = build_proof(log.store, index=9, checkpoint_note=cosigned)
    verified = verify_proof(
        proof_text=text,
        leaf_data=log.events[9],
        log_verifier=log.verifier,
        cosigners=[bidder_v],
        min_cosignatures=1,
    )
    assert [c.name for c in verified.cosignatures] == ["bidder-a.example/witness"]
    bare = build_proof(log.store, index=9, checkpoint_note=log.note)
    with pytest.raises(IntegrityError):
        verify_proof(
            proof_text=bare,
            leaf_data=log.events[9],
            log_verifier=log.verifier,
            cosigners=[bidder_v],
            min_cosignatures=1,
        )


def test_build_refuses_a_checkpoint_of_another_tree(log: Log) -> None:
    foreign = sign_checkpoint(Checkpoint(ORIGIN, 1000, bytes(32)), signer=log.signer)
    with pytest.raises(IntegrityError):
        build_proof(log.store, index=0, checkpoint_note=foreign)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace(PROOF_HEADER, "c2sp.org/tlog-proof@v2"),
        lambda t: t.replace("index 5\n", "index 05\n"),
        lambda t: t.replace("index 5\n", "index -5\n"),
        lambda t: t.replace("index 5\n", "index five\n"),
        lambda t: t.replace("index 5\n", ""),
        lambda t: t.replace("index 5\n", "index 5\nextra AAAA\n"),  # extra must come first
        lambda t: t.replace("index 5\n", "index 5\n!!notbase64!!\n"),
        lambda t: t.replace("index 5\n", "index 5\n" + base64.b64encode(bytes(64)).decode() + "\n"),
        lambda t: t.split("\n\n")[0] + "\n",  # no checkpoint
        lambda t: t.split("\n\n")[0],  # no blank line
        lambda t: t.replace(PROOF_HEADER + "\n", PROOF_HEADER + "\nextra !!\n"),
    ],
)
def test_malformed_proofs(log: Log, mutate: Callable[[str], str]) -> None:
    text = build_proof(log.store, index=5, checkpoint_note=log.note).decode()
    with pytest.raises(Invalid):
        parse_proof(mutate(text))


def test_format_rejects_bad_input(log: Log) -> None:
    with pytest.raises(Invalid):
        format_proof(index=-1, path=[], checkpoint_note=log.note)
    with pytest.raises(Invalid):
        format_proof(index=0, path=[b"short"], checkpoint_note=log.note)
    with pytest.raises(Invalid):
        format_proof(index=0, path=[], checkpoint_note=log.note.rstrip(b"\n"))
    with pytest.raises(Invalid):
        verify_proof(proof_text=b"", log_verifier=log.verifier)
    with pytest.raises(Invalid):
        verify_proof(proof_text=b"", leaf_data=b"", leaf_hash=bytes(32), log_verifier=log.verifier)
