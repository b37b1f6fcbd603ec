"""An independent verifier of the audit log's public proofs, as an outsider would write it.

It imports nothing of ``hazwaste.audit``: only hashlib, base64, struct and ``cryptography``,
and the documented formats (RFC 6962 hashing; RFC 9162 §2.1.3.2 and §2.1.4.2 verification
algorithms; the tree-head serialisation of the key endpoint). Everything it checks comes
from the public HTTP API.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import text

from tests import factories
from tests.conftest import api_token

STH_PREFIX = b"hazwaste-audit-tree-head-v1\x00"


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf(leaf_input: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def verify_tree_head(public: Ed25519PublicKey, head: dict) -> bool:
    signed = (
        STH_PREFIX
        + struct.pack(">QQ", head["tree_size"], head["timestamp_ms"])
        + bytes.fromhex(head["root_hash"])
    )
    try:
        public.verify(base64.b64decode(head["signature"]), signed)
    except InvalidSignature:
        return False
    return True


def verify_inclusion(index: int, size: int, leaf_hash: bytes, path: list[bytes], root: bytes):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root, second_root, path) -> bool:
    """RFC 9162 §2.1.4.2 (plus the trivial case of equal sizes)."""
    if first == second:
        return not path and first_root == second_root
    if not path or not 0 < first < second:
        return False
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def entry_hash(entry: dict) -> str:
    """The documented entry hash, for a reader allowed to see the entry's content."""
    at = datetime.fromisoformat(entry["occurred_at"]).isoformat()
    fields = [
        "hazwaste-audit-entry-v2",
        entry["prev_hash"],
        str(entry["chain_seq"]),
        entry["salt"],
        at,
        "" if entry["actor_user_id"] is None else str(entry["actor_user_id"]),
        entry["action"],
        entry["object_type"],
        entry["object_id"],
        entry["payload"],
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def checkpoint(app) -> int:
    out = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert out.exit_code == 0, out.output
    return int(out.output.split("tree size ")[1].split(",")[0])


def entry_ids(session) -> list[int]:
    return list(session.scalars(text("SELECT id FROM audit_entries ORDER BY id")))


def test_independent_verifier_checks_proofs_from_the_api(app, client, session, now):
    admin = factories.platform_admin(session, now, email="root@factory.test")
    for _ in range(3):
        factories.organization(session, now, approved_by=admin)
    session.commit()
    first = checkpoint(app)
    first_ids = entry_ids(session)
    assert first == len(first_ids) >= 6
    for _ in range(4):
        factories.organization(session, now, approved_by=admin)
    session.commit()
    second = checkpoint(app)
    ids = entry_ids(session)
    assert second == len(ids) > first

    key = client.get("/api/v1/audit/checkpoints/key").get_json()["data"]
    assert key["algorithm"] == "Ed25519"
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    pem_key = load_pem_public_key(key["public_key_pem"].encode())
    assert pem_key == public
    assert key["key_id"] == hashlib.sha256(base64.b64decode(key["public_key"])).hexdigest()

    listed = client.get("/api/v1/audit/checkpoints").get_json()
    heads = listed["data"]
    assert [h["tree_size"] for h in heads] == [second, first], "newest first"
    assert listed["meta"]["total"] == 2
    assert all(verify_tree_head(public, h) for h in heads)
    tampered = {**heads[0], "tree_size": heads[0]["tree_size"] + 1}
    assert not verify_tree_head(public, tampered)
    roots = {h["tree_size"]: bytes.fromhex(h["root_hash"]) for h in heads}

    for entry_id in ids:
        for size in (first, second) if entry_id in first_ids else (second,):
            response = client.get(f"/api/v1/audit/entries/{entry_id}/proof?tree_size={size}")
            assert response.status_code == 200
            proof = response.get_json()["data"]
            assert proof["entry"] is None, "anonymous callers see no content"
            assert verify_tree_head(public, proof["checkpoint"])
            assert proof["checkpoint"]["tree_size"] == size
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            leaf_hash = leaf(bytes.fromhex(proof["leaf_input"]))
            assert verify_inclusion(proof["leaf_index"], size, leaf_hash, path, roots[size])
            # The verifier is not a rubber stamp.
            other = leaf(bytes(32))
            assert not verify_inclusion(proof["leaf_index"], size, other, path, roots[size])
            if path:
                bad = [bytes(32), *path[1:]]
                assert not verify_inclusion(proof["leaf_index"], size, leaf_hash, bad, roots[size])
    latest = client.get(f"/api/v1/audit/entries/{ids[0]}/proof").get_json()["data"]
    assert latest["checkpoint"]["tree_size"] == second, "the latest tree head by default"

    response = client.get(f"/api/v1/audit/consistency?first={first}&second={second}")
    assert response.status_code == 200
    body = response.get_json()["data"]
    assert verify_tree_head(public, body["first"]) and verify_tree_head(public, body["second"])
    path = [bytes.fromhex(h) for h in body["proof"]]
    assert verify_consistency(first, second, roots[first], roots[second], path)
    assert not verify_consistency(first, second, roots[second], roots[first], path)
    assert not verify_consistency(first, second, bytes(32), roots[second], path)
    same = client.get(f"/api/v1/audit/consistency?first={second}&second={second}").get_json()
    assert verify_consistency(second, second, roots[second], roots[second], [])
    assert same["data"]["proof"] == []


def test_consistency_for_every_pair_of_small_trees(app, client, session, now):
    """Tree heads of sizes 1…7 (one entry each): every pair is consistent, and each entry
    is included in every tree that covers it — power-of-two and odd sizes alike."""
    for i in range(7):
        session.execute(
            text(
                "INSERT INTO audit_entries (occurred_at, action, object_type, object_id,"
                " payload, chain_seq, prev_hash, salt, hash)"
                " VALUES (:at, 'test', 't', :oid, '{}', 1, :g, :s, :h)"
            ),
            {"at": now, "oid": str(i), "g": "0" * 64, "s": "00" * 16, "h": f"{i:064x}"},
        )
        session.commit()
        checkpoint(app)
    heads = client.get("/api/v1/audit/checkpoints").get_json()["data"]
    roots = {h["tree_size"]: bytes.fromhex(h["root_hash"]) for h in heads}
    assert sorted(roots) == list(range(1, 8))
    for m in range(1, 8):
        for n in range(m, 8):
            body = client.get(f"/api/v1/audit/consistency?first={m}&second={n}").get_json()
            path = [bytes.fromhex(h) for h in body["data"]["proof"]]
            assert verify_consistency(m, n, roots[m], roots[n], path), (m, n)


def test_full_entry_only_for_platform_administrators(app, client, session, now):
    admin = factories.platform_admin(session, now, email="root2@factory.test")
    _org, org_admin = factories.organization(session, now, approved_by=admin)
    session.commit()
    checkpoint(app)
    entry_id = entry_ids(session)[-1]
    url = f"/api/v1/audit/entries/{entry_id}/proof"
    as_member = client.get(url, headers=api_token(client, org_admin.email, factories.PASSWORD))
    assert as_member.get_json()["data"]["entry"] is None
    as_admin = client.get(url, headers=api_token(client, admin.email, factories.PASSWORD))
    data = as_admin.get_json()["data"]
    assert data["entry"]["action"] == "organization.approved"
    assert entry_hash(data["entry"]) == data["leaf_input"], "content → hash → leaf"


def test_proof_errors(app, client, session, now):
    assert client.get("/api/v1/audit/entries/1/proof").status_code == 404  # no tree head yet
    factories.platform_admin(session, now)
    factories.organization(session, now)
    session.commit()
    size = checkpoint(app)
    factories.organization(session, now)
    session.commit()
    newest = entry_ids(session)[-1]
    response = client.get(f"/api/v1/audit/entries/{newest}/proof")
    assert response.status_code == 409
    assert client.get("/api/v1/audit/entries/999999/proof").status_code == 404
    assert client.get(f"/api/v1/audit/entries/{newest}/proof?tree_size=999").status_code == 404
    bad = client.get("/api/v1/audit/entries/1/proof?tree_size=abc")
    assert bad.status_code == 422 and "tree_size" in bad.get_json()["error"]["fields"]
    reversed_sizes = client.get(f"/api/v1/audit/consistency?first={size + 1}&second={size}")
    assert reversed_sizes.status_code == 422
    assert client.get(f"/api/v1/audit/consistency?first=1&second={size + 5}").status_code == 404
    missing = client.get("/api/v1/audit/consistency?first=1")
    assert missing.status_code == 422 and "second" in missing.get_json()["error"]["fields"]
