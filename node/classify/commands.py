"""Sub-commands of this stage (registered by node.cli)."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Nothing registered yet."""
