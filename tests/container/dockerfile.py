"""The facts the deploy examples must agree with, read from the Dockerfile itself: its final stage's
environment, exposed port, user, health check and command."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None = None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for key, argument in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the final stage has no {keyword}"
        return found[-1]

    @property
    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for argument in self.all("ENV"):
            for item in shlex.split(argument):
                key, sep, value = item.partition("=")
                assert sep, f"ENV {argument!r}: use the KEY=value form"
                values[key] = value
        return values

    @property
    def exposed_ports(self) -> list[int]:
        return [int(port.split("/")[0]) for argument in self.all("EXPOSE") for port in argument.split()]

    @property
    def user(self) -> str:
        return self.last("USER")

    @property
    def cmd(self) -> list[str]:
        return json.loads(self.last("CMD"))

    @property
    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        """HEALTHCHECK's options and its exec-form command."""
        argument = self.last("HEALTHCHECK")
        options, _, command = argument.partition(" CMD ")
        parsed = dict(re.findall(r"--([a-z-]+)=(\S+)", options))
        return parsed, json.loads(command)


@dataclass
class Dockerfile:
    args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, argument) pairs; continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, argument = whole.partition(" ")
        result.append((keyword.upper(), " ".join(argument.split())))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return result


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, argument in instructions(path.read_text(encoding="utf-8")):
        if keyword == "FROM":
            base, _, name = argument.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            key, _, default = argument.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, argument))
    return Dockerfile(args, stages)
