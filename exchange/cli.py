"""The ``exchange`` command: one entry point for people and scripts.

Sub-commands are imported lazily so that ``exchange --help`` does no heavy imports.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "publish": "producers.publish_cli:publish_command",
    "simulate": "producers.simulator_cli:simulate_command",
    "worker": "exchange.worker.run:worker_command",
    "demo": "exchange.demo:demo_command",
    "show": "exchange.show:show_command",
    "lag": "consumers.ops.lag_cli:lag_command",
    "desk": "consumers.desk.cli:desk_command",
    "departments": "producers.departments_cli:departments_command",
    "audit": "exchange.audit_cli:audit_command",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """One-window exchange bus: publish department events, join them, run the desks."""


if __name__ == "__main__":
    main()
