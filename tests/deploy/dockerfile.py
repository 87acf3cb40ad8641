"""Replay a Dockerfile without Docker: what the image's file set and install would be.

Docker cannot run on the build machine, so tests/deploy/test_image.py rebuilds the
image's file tree from the Dockerfile's own instructions. This module knows a small,
explicit subset of the Dockerfile language and refuses anything else (so a new kind
of step fails the test until the replay learns it, instead of being skipped quietly):

* `parse(text)` reads FROM, ARG, ENV, WORKDIR, COPY/ADD (from the build context only),
  RUN, USER, VOLUME, EXPOSE, HEALTHCHECK, CMD, LABEL into an `Image`.
* `DockerIgnore` applies `.dockerignore` rules the way Docker's pattern matcher does:
  `*`, `?`, `**`, character classes, `!` exceptions (the last matching rule wins), and a
  rule that matches a folder excludes everything under it.
* `Replay` lays the image's files out under a temporary "root" folder (an image path
  `/app` becomes `<root>/app`) and runs the RUN steps it knows, with paths mapped:
  `python -m venv`, `pip install` and `uv pip install` (the venv's own, never the
  test's), `mkdir`, and `useradd`/`chown`, which are recorded but not run (the tests
  are not root in an image). Anything else raises `Unsupported`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
RUN_FLAGS = ("--mount=", "--network=", "--security=")
COPY_FLAGS = ("--chown=", "--chmod=", "--link")


class Unsupported(ValueError):
    """The Dockerfile uses something this replay does not understand."""


@dataclass
class Copy:
    sources: list[str]
    dest: str  # absolute image path


@dataclass
class Run:
    commands: list[list[str]]  # `a && b` split into [a, b], each already word-split
    cwd: str  # the WORKDIR it runs in
    env: dict[str, str]  # the image's ENV at that point


@dataclass
class Image:
    """What a Dockerfile declares, in order where order matters."""

    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    steps: list[Copy | Run] = field(default_factory=list)
    user: str = "root"
    volumes: list[str] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    cmd: list[str] = field(default_factory=list)

    @property
    def copies(self) -> list[Copy]:
        return [step for step in self.steps if isinstance(step, Copy)]

    @property
    def runs(self) -> list[Run]:
        return [step for step in self.steps if isinstance(step, Run)]


def _logical_lines(text: str) -> Iterator[str]:
    """Instructions with their `\\` continuations joined; comments and blanks dropped
    (a comment inside a continued instruction is dropped too, as Docker does)."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending.strip():
        yield pending.strip()


def _expand(value: str, env: Mapping[str, str]) -> str:
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _exec_or_shell(args: str) -> list[str]:
    """A JSON array (exec form) as is; a shell form as `/bin/sh -c <args>`."""
    if args.startswith("["):
        words = json.loads(args)
        if not all(isinstance(w, str) for w in words):
            raise Unsupported(f"not a list of strings: {args}")
        return list(words)
    return ["/bin/sh", "-c", args]


def _flags(words: list[str], allowed: tuple[str, ...]) -> list[str]:
    """Drop leading `--flag` words that are allowed; refuse any other flag."""
    while words and words[0].startswith("--"):
        if not words[0].startswith(allowed):
            raise Unsupported(f"flag {words[0]!r} is not supported by the replay")
        words = words[1:]
    return words


def _split_commands(script: str) -> list[list[str]]:
    words = shlex.split(script, comments=False)
    commands: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            commands.append([])
        elif word in {";", "||", "|", "&"} or word.startswith(("$(", "`")):
            raise Unsupported(f"shell construct {word!r} in RUN is not supported")
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _env_pairs(args: str, env: Mapping[str, str]) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy `ENV NAME value with spaces`
        return {words[0]: _expand(" ".join(words[1:]), env)}
    pairs: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep:
            raise Unsupported(f"ENV word without '=': {word!r}")
        pairs[name] = _expand(value, {**env, **pairs})
    return pairs


def _abs(path: str, workdir: str) -> str:
    return str(PurePosixPath(workdir) / path) if not path.startswith("/") else path


def parse(text: str) -> Image:
    """Read a single-stage Dockerfile into an `Image`; raise `Unsupported` otherwise."""
    image = Image()
    for line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            if image.base:
                raise Unsupported("multi-stage builds are not supported by the replay")
            image.base = args
        elif keyword == "ARG":
            name, _, default = args.partition("=")
            image.env.setdefault(name, default)
        elif keyword == "ENV":
            image.env.update(_env_pairs(args, image.env))
        elif keyword == "WORKDIR":
            image.workdir = _abs(_expand(args, image.env), image.workdir)
        elif keyword in {"COPY", "ADD"}:
            words = _exec_or_shell(args) if args.startswith("[") else shlex.split(args)
            words = _flags(words, COPY_FLAGS)
            if keyword == "ADD" and any("://" in w or w.endswith(".tar") for w in words):
                raise Unsupported("ADD of a URL or archive is not supported by the replay")
            if len(words) < 2:
                raise Unsupported(f"{keyword} needs a source and a destination: {args}")
            dest = _expand(words[-1], image.env)
            absolute = _abs(dest, image.workdir) + ("/" if dest.endswith("/") else "")
            image.steps.append(Copy(sources=words[:-1], dest=absolute))
        elif keyword == "RUN":
            words = args.split(" ")
            while words and words[0].startswith("--"):
                if not words[0].startswith(RUN_FLAGS):
                    raise Unsupported(f"RUN flag {words[0]!r} is not supported")
                words = words[1:]
            script = " ".join(words)
            commands = [json.loads(script)] if script.startswith("[") else _split_commands(script)
            image.steps.append(Run(commands, image.workdir, dict(image.env)))
        elif keyword == "USER":
            image.user = args
        elif keyword == "VOLUME":
            volumes = json.loads(args) if args.startswith("[") else args.split()
            image.volumes.extend(_expand(v, image.env) for v in volumes)
        elif keyword == "EXPOSE":
            image.exposed.extend(args.split())
        elif keyword == "HEALTHCHECK":
            if args.upper() == "NONE":
                image.healthcheck = None
                continue
            options, sep, command = args.partition("CMD ")
            if not sep:
                raise Unsupported(f"HEALTHCHECK without CMD: {args}")
            _flags(options.split(), ("--interval=", "--timeout=", "--start-period=", "--retries="))
            image.healthcheck = _exec_or_shell(command.strip())
        elif keyword == "CMD":
            image.cmd = _exec_or_shell(args)
        elif keyword == "LABEL":
            continue
        else:
            raise Unsupported(f"instruction {keyword} is not supported by the replay")
    return image


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's (Go filepath.Match + `**`) pattern as an anchored regex."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise Unsupported(f"bad character class in {pattern!r}")
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 1
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


class DockerIgnore:
    """The rules of a `.dockerignore`; `excluded("a/b/c.py")` as Docker decides it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
            if pattern in {"", "."}:
                continue
            self.rules.append((negate, _pattern_regex(pattern)))

    @property
    def has_exceptions(self) -> bool:
        return any(negate for negate, _ in self.rules)

    def excluded(self, relpath: str) -> bool:
        """True if this context path (posix, relative) is left out of the build context:
        the last rule matching it, or one of its parent folders, decides."""
        parts = PurePosixPath(relpath).parts
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for negate, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                verdict = not negate
        return verdict


def context_files(context: Path, ignore: DockerIgnore) -> list[str]:
    """Every file of the build context Docker would send (posix paths, sorted)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(context):
        rel = Path(folder).relative_to(context)
        if not ignore.has_exceptions:  # nothing below an excluded folder can come back
            dirs[:] = [d for d in dirs if not ignore.excluded((rel / d).as_posix())]
        for name in files:
            path = (rel / name).as_posix()
            if not ignore.excluded(path) and not (Path(folder) / name).is_symlink():
                found.append(path)
    return sorted(found)


@dataclass
class Replay:
    """Lay an `Image` out under `root` and run its known RUN steps there."""

    image: Image
    context: Path
    root: Path
    files: list[str]  # the build context, from `context_files`
    skipped: list[list[str]] = field(default_factory=list)  # recorded, not run
    owners: dict[str, str] = field(default_factory=dict)  # image path -> user (chown)

    def host(self, image_path: str) -> Path:
        """Where an absolute image path lives in the replay."""
        return self.root / image_path.lstrip("/")

    def _map_word(self, word: str) -> str:
        return str(self.host(word)) if word.startswith("/") else word

    def host_env(self, image_env: Mapping[str, str]) -> dict[str, str]:
        """The image's ENV with absolute paths mapped (PATH element by element; image
        folders that do not exist in the replay are dropped from PATH)."""
        mapped: dict[str, str] = {}
        for name, value in image_env.items():
            if name == "PATH":
                elements = [
                    str(self.host(p)) if self.host(p).is_dir() else p for p in value.split(":") if p
                ]
                mapped[name] = ":".join(elements)
            else:
                mapped[name] = self._map_word(value)
        return mapped

    def which(self, name: str, image_env: Mapping[str, str]) -> str:
        """An executable as the image would find it: in an image folder of PATH first;
        `python` falls back to the interpreter running the tests (the base image's
        Python); anything else missing from the image is an error."""
        for element in image_env.get("PATH", "").split(":"):
            if element.startswith("/") and (self.host(element) / name).is_file():
                return str(self.host(element) / name)
        if name in {"python", "python3", "python3.11"}:
            return sys.executable
        raise Unsupported(f"{name!r} is not in the replayed image's PATH")

    def copy(self, step: Copy) -> None:
        dest = self.host(step.dest)
        for source in step.sources:
            pattern = os.path.normpath(source).lstrip("/")
            selected = [
                f
                for f in self.files
                if pattern == "."
                or f == pattern
                or f.startswith(pattern + "/")
                or fnmatch.fnmatchcase(f, pattern)
            ]
            if not selected:
                raise FileNotFoundError(f"COPY {source}: nothing in the build context")
            for rel in selected:
                if pattern == "." or f"{rel}".startswith(pattern + "/"):
                    inner = rel if pattern == "." else rel[len(pattern) + 1 :]
                    target = dest / inner
                elif step.dest.endswith("/") or len(step.sources) > 1:
                    target = dest / PurePosixPath(rel).name
                else:
                    target = dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.context / rel, target)

    def run(self, step: Run, base_env: Mapping[str, str], timeout_s: float) -> None:
        cwd = self.host(step.cwd)
        cwd.mkdir(parents=True, exist_ok=True)
        env = {**base_env, **self.host_env(step.env)}
        for command in step.commands:
            program, args = command[0], command[1:]
            if program in {"useradd", "groupadd", "adduser"}:
                self.skipped.append(command)
                continue
            if program == "chown":
                owner = next(a for a in args if not a.startswith("-"))
                for path in args[args.index(owner) + 1 :]:
                    self.owners[path] = owner.split(":")[0]
                self.skipped.append(command)
                continue
            if program == "mkdir":
                for arg in args:
                    if not arg.startswith("-"):
                        self.host(_abs(arg, step.cwd)).mkdir(parents=True, exist_ok=True)
                continue
            makes_venv = program in {"python", "python3"} and args[:2] == ["-m", "venv"]
            installs = (program in {"pip", "pip3"} and args[:1] == ["install"]) or (
                program == "uv" and args[:2] == ["pip", "install"]
            )
            if not (makes_venv or installs):
                raise Unsupported(f"RUN {shlex.join(command)} is not replayed")
            argv = [self.which(program, step.env), *(self._map_word(a) for a in args)]
            subprocess.run(argv, cwd=cwd, env=env, check=True, timeout=timeout_s)

    def build(self, base_env: Mapping[str, str], timeout_s: float) -> None:
        """Every COPY and RUN step in order; raise on the first failure."""
        for step in self.image.steps:
            if isinstance(step, Copy):
                self.copy(step)
            else:
                self.run(step, base_env, timeout_s)
