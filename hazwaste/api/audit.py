"""Public transparency-log API: signed tree heads, the public key, inclusion and consistency
proofs. No token needed: anyone may keep copies of tree heads and check them later.

What a proof reveals: an anonymous caller gets an entry's *hash* (the leaf input), its log
position and the audit path — never its content. The hash covers a random per-entry salt, so
it cannot be used to confirm a guess of who did what when. A platform administrator's bearer
token adds the full entry (subject, actor, payload, salt, chain links), enough to recompute
the hash from the content; other users read audit history through the pages of the objects
they may see.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import fields, validate
from sqlalchemy import select

from hazwaste.api.core import bearer_user, bp, load_query, ok
from hazwaste.api.spec import document
from hazwaste.audit import services, signing
from hazwaste.audit.models import AuditCheckpoint
from hazwaste.extensions import db
from hazwaste.pagination import paginate
from hazwaste.schemas import BaseSchema

TAGS = ["transparency"]


class CheckpointOutSchema(BaseSchema):
    id = fields.Integer()
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "Merkle root, hex"})
    issued_at = fields.DateTime()
    timestamp_ms = fields.Function(
        lambda c: signing.timestamp_ms(c.issued_at),
        metadata={"description": "issued_at in ms since 1970-01-01 UTC, as signed"},
    )
    signature = fields.String(metadata={"description": "Ed25519 signature, base64"})
    key_id = fields.String(metadata={"description": "SHA-256 of the raw public key, hex"})


class CheckpointListArgsSchema(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))


class PublicKeyOutSchema(BaseSchema):
    algorithm = fields.String()
    key_id = fields.String()
    public_key = fields.String(metadata={"description": "raw 32-byte key, base64"})
    public_key_pem = fields.String(metadata={"description": "SubjectPublicKeyInfo PEM"})
    signed_data = fields.String(metadata={"description": "what each signature covers"})
    leaf_hash = fields.String()
    node_hash = fields.String()


class ProofArgsSchema(BaseSchema):
    tree_size = fields.Integer(load_default=None, validate=validate.Range(min=1))


class EntryOutSchema(BaseSchema):
    id = fields.Integer()
    object_type = fields.String()
    object_id = fields.String()
    chain_seq = fields.Integer()
    prev_id = fields.Integer(allow_none=True)
    prev_hash = fields.String()
    salt = fields.String()
    occurred_at = fields.DateTime()
    actor_user_id = fields.Integer(allow_none=True)
    action = fields.String()
    payload = fields.String(metadata={"description": "canonical JSON, as hashed"})
    hash = fields.String()


class InclusionOutSchema(BaseSchema):
    entry_id = fields.Integer()
    leaf_index = fields.Integer()
    leaf_input = fields.String(
        metadata={"description": "the entry's hash (hex); leaf hash = SHA-256(0x00 ‖ bytes)"}
    )
    audit_path = fields.List(fields.String(), metadata={"description": "hex, leaf side first"})
    checkpoint = fields.Nested(CheckpointOutSchema)
    entry = fields.Nested(EntryOutSchema, allow_none=True)


class ConsistencyArgsSchema(BaseSchema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(required=True, validate=validate.Range(min=1))


class ConsistencyOutSchema(BaseSchema):
    first = fields.Nested(CheckpointOutSchema)
    second = fields.Nested(CheckpointOutSchema)
    proof = fields.List(fields.String(), metadata={"description": "hex, RFC 6962 PROOF order"})


@bp.get("/audit/checkpoints")
@document(
    "/api/v1/audit/checkpoints",
    "get",
    "Signed tree heads of the audit log, newest first (public): tree size, Merkle root, "
    "time and Ed25519 signature; `meta` gives page, per_page, total, pages",
    tags=TAGS,
    query=CheckpointListArgsSchema,
    response=CheckpointOutSchema,
    many=True,
    auth=False,
    statuses={422: "Invalid page or per_page"},
)
def checkpoints() -> Any:
    args = load_query(CheckpointListArgsSchema())
    per_page = min(
        args["per_page"] or current_app.config["PAGE_SIZE"], current_app.config["PAGE_SIZE_MAX"]
    )
    stmt = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc())
    page = paginate(db.session, stmt, args["page"], per_page)
    return ok(CheckpointOutSchema(many=True).dump(page.items), **page.meta())


@bp.get("/audit/checkpoints/key")
@document(
    "/api/v1/audit/checkpoints/key",
    "get",
    "The public key that signs tree heads (raw base64 and PEM) and the exact signed data",
    tags=TAGS,
    response=PublicKeyOutSchema,
    auth=False,
)
def checkpoint_key() -> Any:
    return ok(PublicKeyOutSchema().dump(signing.public_key_info()))


def _is_platform_admin() -> bool:
    """Whether the request carries a platform administrator's valid bearer token (optional
    here: without one the public view is given, never a 401)."""
    user = bearer_user()
    return bool(user is not None and user.is_platform_admin)


@bp.get("/audit/entries/<int:entry_id>/proof")
@document(
    "/api/v1/audit/entries/{entry_id}/proof",
    "get",
    "Inclusion proof of one audit entry in the tree head of `tree_size` (default: the "
    "latest): leaf index, leaf input (the entry's salted hash), audit path and the signed "
    "tree head. The entry's content only for a platform administrator's token",
    tags=TAGS,
    query=ProofArgsSchema,
    response=InclusionOutSchema,
    auth=False,
    statuses={
        404: "No such entry, or no checkpoint of that size",
        409: "The entry is not in that tree head yet (the next checkpoint adds it)",
        422: "Invalid tree_size",
    },
)
def entry_proof(entry_id: int) -> Any:
    args = load_query(ProofArgsSchema())
    proof = services.inclusion_proof(db.session, entry_id, args["tree_size"])
    body = {
        "entry_id": proof.entry.id,
        "leaf_index": proof.leaf_index,
        "leaf_input": proof.entry.hash,
        "audit_path": [h.hex() for h in proof.path],
        "checkpoint": proof.checkpoint,
        "entry": proof.entry if _is_platform_admin() else None,
    }
    return ok(InclusionOutSchema().dump(body))


@bp.get("/audit/consistency")
@document(
    "/api/v1/audit/consistency",
    "get",
    "RFC 6962 consistency proof between the tree heads of sizes `first` ≤ `second`",
    tags=TAGS,
    query=ConsistencyArgsSchema,
    response=ConsistencyOutSchema,
    auth=False,
    statuses={404: "No checkpoint of one of these sizes", 422: "Invalid or missing sizes"},
)
def consistency() -> Any:
    args = load_query(ConsistencyArgsSchema())
    proof = services.consistency_proof(db.session, args["first"], args["second"])
    body = {"first": proof.first, "second": proof.second, "proof": [h.hex() for h in proof.path]}
    return ok(ConsistencyOutSchema().dump(body))
