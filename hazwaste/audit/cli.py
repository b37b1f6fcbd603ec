"""``flask audit verify`` checks the chains, the tree and the signed tree heads;
``flask audit checkpoint`` sequences new entries and signs a tree head."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hazwaste.audit import services
from hazwaste.db import utcnow
from hazwaste.extensions import db

audit_cli = AppGroup("audit", help="Audit log commands.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Verify every chain, leaf and checkpoint; exit 1 naming the first broken one."""
    result = services.verify(db.session)
    if result.ok:
        click.echo(
            f"OK: {result.checked} audit entries in {result.chains} chains verified; "
            f"{result.checkpoints} checkpoints verified; tree size {result.tree_size}, "
            f"root {result.root_hash or '-'}; {result.unsequenced} entries await the next "
            "checkpoint"
        )
        return
    where = []
    if result.first_broken_id is not None:
        where.append(f"audit entry {result.first_broken_id}")
    if result.checkpoint_id is not None:
        where.append(f"checkpoint {result.checkpoint_id}")
    click.echo(
        f"BROKEN at {', '.join(where) or 'the Merkle tree'}: {result.reason} "
        f"({result.checked} entries verified before it)",
        err=True,
    )
    raise SystemExit(1)


@audit_cli.command("checkpoint")
@click.option("--limit", type=int, default=None, help="Sequence at most this many entries.")
def checkpoint_command(limit: int | None) -> None:
    """Give new entries their log positions and sign a new tree head."""
    head = services.checkpoint(db.session, utcnow(), limit=limit)
    db.session.commit()
    if head is None:
        click.echo("Nothing new: no checkpoint written.")
        return
    click.echo(f"Checkpoint {head.id}: tree size {head.tree_size}, root {head.root_hash}")
