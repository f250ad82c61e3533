"""The `seedqa` command line: index a folder, ask questions (one, interactively, or a batch file),
evaluate against gold answers, import and train on reading-comprehension sets, build the default
model, and start the chat window.

Every failure a user can fix is one line on stderr (`seedqa: error: ...`) and a non-zero exit,
never a traceback; click does the parsing and the `--help` text of every command. Each
subcommand lives in its own module and imports only `ui.cli.common`; heavy libraries (torch,
Gradio) load inside the command that needs them, so `seedqa --help` stays fast.
"""

from __future__ import annotations

import click

from qa.core.offline import offline_env
from ui import logs
from ui.cli.ask import ask, index
from ui.cli.chat import chat_cmd
from ui.cli.eval import eval_cmd
from ui.cli.import_squad import import_cmd
from ui.cli.model import model
from ui.cli.train import train_cmd

offline_env()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seedqa")
def main() -> None:
    """Answer questions from a folder of documents, with citations, extractively."""
    logs.setup()


for name, command in {
    "index": index,
    "ask": ask,
    "eval": eval_cmd,
    "chat": chat_cmd,
    "import-squad": import_cmd,
    "train": train_cmd,
    "model": model,
}.items():
    main.add_command(command, name)


if __name__ == "__main__":
    main()
