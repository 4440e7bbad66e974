"""Evaluating an agent's answers: the questions of a golden set asked through the
chat, each reply measured (the ``eval`` command, and the answer benchmark).

- ``golden``: reading golden sets (TSV);
- ``asking``: asking one question as a chat client does;
- ``matching``: sources, key phrases and numbers;
- ``metrics``: one outcome per question, and the figures over them;
- ``run``: an evaluation, start to end;
- ``report``: the figures as text or JSON;
- ``command``: the ``eval`` command.
"""
