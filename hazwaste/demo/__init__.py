"""Demo data set: a small, realistic world around Ordos (鄂尔多斯, 150600)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.demo.cli import seed_demo_command

    app.cli.add_command(seed_demo_command)
