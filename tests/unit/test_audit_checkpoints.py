"""The checkpoint job, the Merkle tree it stores, its signed tree heads, and `flask audit
verify` finding tampering with any of them."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from hazwaste.audit import merkle
from hazwaste.audit import services as audit
from hazwaste.audit.models import AuditEntry, AuditTreeNode
from hazwaste.audit.signing import load_signing_key, signed_bytes, timestamp_ms

# RFC 6962 test data as used by the Certificate Transparency reference implementations, and
# the MTH of its first n leaves.
RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_rfc6962_test_vectors():
    leaves = [merkle.leaf_hash(data) for data in RFC_LEAVES]
    for n, expected in enumerate(RFC_ROOTS, start=1):
        assert merkle.mth(leaves[:n]).hex() == expected
        frontier = merkle.Frontier()
        for leaf in leaves[:n]:
            frontier.append(leaf)
        assert frontier.root().hex() == expected
    assert merkle.mth([]).hex() == hashlib.sha256(b"").hexdigest()


def _store(leaves):
    nodes = {}
    frontier = merkle.Frontier()
    for leaf in leaves:
        for level, idx, digest in frontier.append(leaf):
            nodes[(level, idx)] = digest
    return nodes, frontier


def _path_by_definition(m, leaves):
    """RFC 6962 §2.1.1, literally."""
    n = len(leaves)
    if n == 1:
        return []
    k = merkle.split_point(n)
    if m < k:
        return [*_path_by_definition(m, leaves[:k]), merkle.mth(leaves[k:])]
    return [*_path_by_definition(m - k, leaves[k:]), merkle.mth(leaves[:k])]


def _subproof_by_definition(m, leaves, whole):
    """RFC 6962 §2.1.2, literally."""
    n = len(leaves)
    if m == n:
        return [] if whole else [merkle.mth(leaves)]
    k = merkle.split_point(n)
    if m <= k:
        return [*_subproof_by_definition(m, leaves[:k], whole), merkle.mth(leaves[k:])]
    return [*_subproof_by_definition(m - k, leaves[k:], False), merkle.mth(leaves[:k])]


def test_proofs_from_stored_perfect_subtrees_match_the_rfc_definitions():
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(33)]
    nodes, _ = _store(leaves)

    def fetch(coords):
        return {c: nodes[c] for c in coords}

    for n in range(1, 34):
        assert merkle.hash_ranges([(0, n)], fetch) == [merkle.mth(leaves[:n])]
        for m in range(n):
            assert merkle.hash_ranges(merkle.inclusion_ranges(m, n), fetch) == (
                _path_by_definition(m, leaves[:n])
            ), (m, n)
        for m in range(1, n):
            assert merkle.hash_ranges(merkle.consistency_ranges(m, n), fetch) == (
                _subproof_by_definition(m, leaves[:n], True)
            ), (m, n)


def record_some(session, now, n, subjects=3):
    ids = [
        audit.record(
            session,
            now + timedelta(seconds=i),
            actor_user_id=None,
            action="test.event",
            object_type="thing",
            object_id=i % subjects,
            payload={"i": i},
        )
        for i in range(n)
    ]
    session.commit()
    return ids


def test_checkpoint_sequences_new_entries_and_signs_the_root(app, session, now):
    ids = record_some(session, now, 5)
    head = audit.checkpoint(session, now)
    session.commit()
    assert head.tree_size == 5
    entries = [session.get(AuditEntry, i) for i in ids]
    assert [e.seq for e in entries] == [0, 1, 2, 3, 4], "id order"
    leaves = [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in entries]
    assert head.root_hash == merkle.mth(leaves).hex()
    public = load_signing_key(app.config["AUDIT_SIGNING_KEY"], "/nonexistent").public_key()
    public.verify(
        base64.b64decode(head.signature),
        signed_bytes(5, timestamp_ms(head.issued_at), bytes.fromhex(head.root_hash)),
    )
    assert audit.checkpoint(session, now) is None, "nothing new, no new tree head"
    more = record_some(session, now, 4)
    second = audit.checkpoint(session, now + timedelta(seconds=5))
    session.commit()
    assert second.tree_size == 9
    assert [session.get(AuditEntry, i).seq for i in more] == [5, 6, 7, 8]
    # Stored nodes: 9 leaves, 4 + 2 + 1 perfect subtrees above them.
    levels = dict(
        session.execute(
            select(AuditTreeNode.level, func.count()).group_by(AuditTreeNode.level)
        ).all()
    )
    assert levels == {0: 9, 1: 4, 2: 2, 3: 1}
    result = audit.verify(session)
    assert result.ok, result
    assert (result.checkpoints, result.tree_size, result.root_hash) == (
        2,
        9,
        second.root_hash,
    )


def test_checkpoint_limit_and_cli(app, session, now):
    record_some(session, now, 5)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["audit", "checkpoint", "--limit", "3"])
    assert out.exit_code == 0 and "tree size 3" in out.output
    out = runner.invoke(args=["audit", "checkpoint"])
    assert "tree size 5" in out.output
    out = runner.invoke(args=["audit", "checkpoint"])
    assert out.output.startswith("Nothing new")
    out = runner.invoke(args=["audit", "verify"])
    assert out.exit_code == 0, out.output
    assert "2 checkpoints verified; tree size 5" in out.output
    assert "0 entries await the next checkpoint" in out.output


def checkpointed(session, now, n=6):
    ids = record_some(session, now, n)
    audit.checkpoint(session, now)
    more = record_some(session, now + timedelta(minutes=1), 3)
    head = audit.checkpoint(session, now + timedelta(minutes=1))
    session.commit()
    assert audit.verify(session).ok
    return [session.get(AuditEntry, i) for i in ids + more], head


def broken(app, session):
    result = audit.verify(session)
    assert not result.ok
    out = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 1
    return result, out.output


def test_altered_root_is_found(app, session, now):
    _, head = checkpointed(session, now)
    session.execute(
        text("UPDATE audit_checkpoints SET root_hash = :r WHERE id = :id"),
        {"r": "ab" * 32, "id": head.id},
    )
    result, output = broken(app, session)
    assert result.checkpoint_id == head.id
    assert result.reason == "its signature does not verify"
    assert f"checkpoint {head.id}" in output


def test_root_signed_by_a_forger_is_found(app, session, now):
    """A forger with another key re-signs an altered root: the key is not the log's."""
    _, head = checkpointed(session, now)
    forger = Ed25519PrivateKey.generate()
    root = bytes(32)
    session.execute(
        text("UPDATE audit_checkpoints SET root_hash = :r, signature = :s WHERE id = :id"),
        {
            "r": root.hex(),
            "s": base64.b64encode(
                forger.sign(signed_bytes(head.tree_size, timestamp_ms(head.issued_at), root))
            ).decode(),
            "id": head.id,
        },
    )
    result, _output = broken(app, session)
    assert (result.checkpoint_id, result.reason) == (head.id, "its signature does not verify")


def test_wrong_root_with_a_valid_signature_is_found(app, session, now):
    """Even a checkpoint correctly signed (a stolen key) must match its entries."""
    from hazwaste.audit.signing import signing_key

    entries, head = checkpointed(session, now)
    root = bytes(32)
    signature = signing_key().sign(signed_bytes(head.tree_size, timestamp_ms(head.issued_at), root))
    session.execute(
        text("UPDATE audit_checkpoints SET root_hash = :r, signature = :s WHERE id = :id"),
        {"r": root.hex(), "s": base64.b64encode(signature).decode(), "id": head.id},
    )
    result, _output = broken(app, session)
    assert result.checkpoint_id == head.id
    assert result.first_broken_id == entries[-1].id
    assert "is not the root of the entries it covers" in result.reason


def test_forged_signature_is_found(app, session, now):
    _, head = checkpointed(session, now)
    signature = bytearray(base64.b64decode(head.signature))
    signature[0] ^= 1
    session.execute(
        text("UPDATE audit_checkpoints SET signature = :s WHERE id = :id"),
        {"s": base64.b64encode(bytes(signature)).decode(), "id": head.id},
    )
    result, _output = broken(app, session)
    assert (result.checkpoint_id, result.reason) == (head.id, "its signature does not verify")


def test_deleted_checkpoint_leaf_is_found(app, session, now):
    entries, _head = checkpointed(session, now)
    session.execute(text("DELETE FROM audit_tree_nodes WHERE level = 0 AND idx = 4"))
    result, output = broken(app, session)
    assert result.first_broken_id == entries[4].id
    assert result.reason == "the tree has no leaf at its position 4"
    assert f"BROKEN at audit entry {entries[4].id}, checkpoint" in output


def test_altered_inner_node_is_found(app, session, now):
    checkpointed(session, now)
    session.execute(
        text("UPDATE audit_tree_nodes SET hash = :h WHERE level = 1 AND idx = 1"),
        {"h": bytes(32)},
    )
    result, _ = broken(app, session)
    assert result.reason == "stored tree node (level 1, index 1) is not the hash of its children"


def test_reordered_log_positions_are_found(app, session, now):
    entries, _ = checkpointed(session, now)
    a, b = entries[1], entries[2]  # different subjects
    session.execute(text("UPDATE audit_entries SET seq = -1 WHERE id = :id"), {"id": a.id})
    session.execute(text("UPDATE audit_entries SET seq = 1 WHERE id = :id"), {"id": b.id})
    session.execute(text("UPDATE audit_entries SET seq = 2 WHERE id = :id"), {"id": a.id})
    result, _ = broken(app, session)
    assert result.first_broken_id == b.id
    assert "not the entry the tree recorded at log position 1" in result.reason


def test_reordered_within_a_chain_is_found(app, session, now):
    entries, _ = checkpointed(session, now)
    a, b = entries[0], entries[3]  # positions 1 and 2 of subject 0
    session.execute(text("UPDATE audit_entries SET seq = -1 WHERE id = :id"), {"id": a.id})
    session.execute(text("UPDATE audit_entries SET seq = 0 WHERE id = :id"), {"id": b.id})
    session.execute(text("UPDATE audit_entries SET seq = 3 WHERE id = :id"), {"id": a.id})
    result, _ = broken(app, session)
    assert result.first_broken_id == b.id
    assert result.reason == "its log position is before its predecessor's (reordered)"


def test_deleted_newest_entry_of_a_chain_is_found(app, session, now):
    """The chain alone cannot show a missing last entry; the tree can."""
    entries, head = checkpointed(session, now)
    last = entries[-1]
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": last.id})
    result, _ = broken(app, session)
    assert result.checkpoint_id == head.id
    assert "covers 9 entries but the log holds 8" in result.reason
    # Entries 6, 7, 8 are the newest of subjects 0, 1, 2.
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[6].id})
    result, _ = broken(app, session)
    assert "log position 6 before it is missing" in result.reason
    assert result.first_broken_id == entries[7].id


def test_forged_entry_given_a_log_position_is_found(app, session, now):
    _entries, _ = checkpointed(session, now)
    forged = audit.record(
        session, now, actor_user_id=None, action="test.forged", object_type="other", object_id=1
    )
    session.execute(text("UPDATE audit_entries SET seq = 9 WHERE id = :id"), {"id": forged})
    result, _ = broken(app, session)
    assert result.first_broken_id == forged
    assert result.reason == "it has a log position no checkpoint covers"


def test_rewritten_history_with_rehashed_chain_is_found(app, session, now):
    """A forger alters an entry and rehashes the rest of its chain consistently: the chains
    verify, the tree does not."""
    entries, _ = checkpointed(session, now)
    chain = sorted((e for e in entries if e.object_id == "1"), key=lambda e: e.chain_seq)
    prev_hash = chain[0].prev_hash
    for i, e in enumerate(chain):
        payload = '{"i":-1}' if i == 0 else e.payload
        digest = audit.entry_hash(
            prev_hash,
            e.chain_seq,
            e.salt,
            e.occurred_at,
            None,
            e.action,
            e.object_type,
            e.object_id,
            payload,
        )
        session.execute(
            text(
                "UPDATE audit_entries SET payload = :p, prev_hash = :ph, hash = :h WHERE id = :id"
            ),
            {"p": payload, "ph": prev_hash, "h": digest, "id": e.id},
        )
        prev_hash = digest
    result, _ = broken(app, session)
    assert result.first_broken_id == chain[0].id
    assert "not the entry the tree recorded" in result.reason


def test_signing_key_is_generated_once_with_mode_0600(tmp_path):
    key = load_signing_key("", tmp_path)
    path = tmp_path / "audit_signing_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_signing_key(None, tmp_path)
    assert key.public_key() == again.public_key()
    by_path = load_signing_key(str(path), "/nonexistent")
    assert by_path.public_key() == key.public_key()
    pem = path.read_text()
    assert load_signing_key(pem, "/nonexistent").public_key() == key.public_key()
    with pytest.raises(FileNotFoundError):
        load_signing_key(str(tmp_path / "missing"), tmp_path)


def test_damaged_tree_is_a_clear_answer_not_a_crash(app, client, session, now):
    entries, head = checkpointed(session, now)
    # Leaves 0-7 (in leaf 8's inclusion path) and leaf 8 (in the 6 → 9 consistency proof).
    session.execute(text("DELETE FROM audit_tree_nodes WHERE level = 3 AND idx = 0"))
    session.execute(text("DELETE FROM audit_tree_nodes WHERE level = 0 AND idx = 8"))
    response = client.get(f"/api/v1/audit/entries/{entries[8].id}/proof")
    assert response.status_code == 409
    assert "flask audit verify" in response.get_json()["error"]["message"]
    response = client.get(f"/api/v1/audit/consistency?first=6&second={head.tree_size}")
    assert response.status_code == 409
    record_some(session, now, 1)
    with pytest.raises(RuntimeError, match="lacks nodes"):
        audit.checkpoint(session, now)
