"""Every command and every flag of ``omnistock`` says what it is for."""

from __future__ import annotations

import argparse

import pytest

from omnistock.cli import build_parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse keeps its subparsers here; no public accessor
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_every_flag_of_every_command_has_help():
    missing = [
        f"omnistock {name} {action.option_strings or action.dest}"
        for name, command in _commands().items()
        for action in command._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []


def test_the_commands_are_all_there():
    assert {"replay", "run", "serve", "demo", "promise", "network", "bench"} <= set(_commands())


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_port_fails_before_anything_starts_naming_the_flag(command, capsys):
    import socket

    from omnistock.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main([command, "--port", str(port)]) == 2
    error = capsys.readouterr()
    assert "--port" in error.err and str(port) in error.err
    assert error.out == ""  # no banner, nothing started
