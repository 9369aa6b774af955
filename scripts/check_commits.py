"""Commit messages since the rule was set: a subject of at most 72 characters, a blank line, a body.

Run by .ci/run. Commits older than RULE_SINCE (the first commit written under the rule) are history and
are not judged; in a shallow clone only the commits present are read."""
from __future__ import annotations

import subprocess
import sys

RULE_SINCE = "067985c"  # "Copy the test corpus into tests/data/corpus with its sources"
MAX_SUBJECT = 72


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def problems(sha: str) -> list[str]:
    message = git("log", "-1", "--format=%B", sha).rstrip("\n")
    lines = message.split("\n")
    merge = len(git("log", "-1", "--format=%P", sha).split()) > 1
    found = []
    if len(lines[0]) > MAX_SUBJECT:
        found.append(f"subject is {len(lines[0])} characters (at most {MAX_SUBJECT})")
    if not merge and (len(lines) < 3 or lines[1] != "" or not "".join(lines[2:]).strip()):
        found.append("no body after a blank line (say why, and the figures)")
    return found


def main() -> int:
    try:
        git("cat-file", "-e", f"{RULE_SINCE}^{{commit}}")
        revs = git("rev-list", f"{RULE_SINCE}^..HEAD").split()
    except subprocess.CalledProcessError:
        revs = git("rev-list", "HEAD").split()
    bad = [(sha, p) for sha in revs for p in problems(sha)]
    for sha, p in bad:
        print(f"commit {sha[:10]} {git('log', '-1', '--format=%s', sha).strip()[:60]!r}: {p}")
    print(f"commit messages: {len(revs)} read, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
