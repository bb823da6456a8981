"""Dockerfile text, rewritten by rule: an unpullable FROM becomes R2E's local base of the nearest distribution
and Python, a `git clone` of the instance's repository becomes a COPY from the build context, and the
deterministic fixes are appended as a tail. Every rewrite returns a one-line note for `normalisations`."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from installers.images import RELEASES, BaseSpec, nearest_python

CONTEXT_REPO = "r2e-repo"  # the repository copy's folder in the build context
TAIL_MARK = "# --- r2e normalize: deterministic fixes ---"
PYTHON_IMAGES = ("python", "library/python", "docker.io/library/python")
# Which Python each distribution release ships as python3: the base of the same Python stands in for it.
DISTRO_PYTHON = {
    "debian": {"buster": "3.7", "10": "3.7", "bullseye": "3.9", "11": "3.9", "bookworm": "3.11", "12": "3.11",
               "trixie": "3.13", "13": "3.13"},
    "ubuntu": {"18.04": "3.6", "bionic": "3.6", "20.04": "3.8", "focal": "3.8", "22.04": "3.10", "jammy": "3.10",
               "24.04": "3.12", "noble": "3.12"},
}
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(\s+AS\s+\S+)?\s*$", re.IGNORECASE)
_CHECKOUT = re.compile(r"^git\s+(?:-C\s+\S+\s+)?(?:checkout|reset|fetch|pull|submodule\s+update)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case; "" for comments and blank lines
    text: str  # the whole logical instruction, continuation lines joined as written


def instructions(dockerfile: str) -> list[Instruction]:
    out, buf = [], []
    for line in dockerfile.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            out.append(Instruction("", line))
            continue
        buf.append(line)
        if line.rstrip().endswith("\\"):
            continue
        text = "\n".join(buf)
        out.append(Instruction(text.split(None, 1)[0].upper(), text))
        buf = []
    if buf:
        text = "\n".join(buf)
        out.append(Instruction(text.split(None, 1)[0].upper(), text))
    return out


def render(items: list[Instruction]) -> str:
    return "\n".join(i.text for i in items).rstrip("\n") + "\n"


def from_images(dockerfile: str) -> list[str]:
    """The external images the stages start FROM (stage names and ARG-made names left out)."""
    stages, images = set(), []
    for ins in instructions(dockerfile):
        m = _FROM.match(ins.text) if ins.keyword == "FROM" else None
        if not m:
            continue
        image = m.group(1)
        if image.lower() not in stages and "$" not in image:
            images.append(image)
        if m.group(2):
            stages.add(m.group(2).split()[-1].lower())
    return images


def base_candidates(image: str) -> list[str]:
    """R2E base images that can stand in for `image`, best first: same Python (nearest >=), slim -> minimal."""
    name, _, tag = image.partition("@")[0].rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    name = name.lower()
    python, minimal = None, False
    if name in PYTHON_IMAGES:
        m = re.match(r"(\d+\.\d+)", tag)
        python = m.group(1) if m else None
        minimal = "slim" in tag or "alpine" in tag
    else:
        distro = name.rsplit("/", 1)[-1]
        python = DISTRO_PYTHON.get(distro, {}).get(tag.split("-")[0])
        minimal = "slim" in tag
    first = nearest_python(python)
    others = sorted((p for p in RELEASES if p != first), key=lambda p: abs(_minor(p) - _minor(first)))
    out = []
    for py in [first, *others]:
        for flavour in ((True, False) if minimal else (False, True)):
            out.append(BaseSpec(py, minimal=flavour).name)
    return out


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def substitute_from(dockerfile: str, image: str, base: str) -> str:
    out = []
    for ins in instructions(dockerfile):
        m = _FROM.match(ins.text) if ins.keyword == "FROM" else None
        if m and m.group(1) == image:
            ins = Instruction("FROM", f"FROM {base}{m.group(2) or ''}")
        out.append(ins)
    return render(out)


def rewrite_clones(dockerfile: str, repo: str) -> tuple[str, list[str], list[str]]:
    """`RUN ... git clone URL-of-repo DEST ...` -> `COPY r2e-repo/ DEST/` (+ the other commands as RUNs).

    The copy is already at base_commit, so checkout/reset/fetch steps on it are dropped (the image may
    have no git, and there is no network to fetch from)."""
    notes, out, dests = [], [], []
    for ins in instructions(dockerfile):
        if ins.keyword != "RUN" or "git clone" not in ins.text:
            out.append(ins)
            continue
        body = ins.text.split(None, 1)[1].replace("\\\n", " ")
        parts = [p.strip() for p in body.split("&&")]
        idx = next((i for i, p in enumerate(parts) if _clone_target(p, repo) is not None), None)
        if idx is None:
            out.append(ins)
            continue
        dest = _clone_target(parts[idx], repo)
        before = parts[:idx]
        after = [p for p in parts[idx + 1:] if not _CHECKOUT.match(p)]
        dropped = len(parts) - idx - 1 - len(after)
        if all(re.fullmatch(r"cd\s+\S+", p) for p in after):
            after = []  # only a cd left: a RUN that does nothing
        if before:
            out.append(Instruction("RUN", "RUN " + " && ".join(before)))
        out.append(Instruction("COPY", f"COPY {CONTEXT_REPO}/ {dest.rstrip('/')}/"))
        if after:
            out.append(Instruction("RUN", "RUN " + " && ".join(after)))
        notes.append(f"git clone of {repo} into {dest} replaced by COPY of the local copy at base_commit"
                     + (f" ({dropped} checkout/fetch step(s) dropped)" if dropped else ""))
        dests.append(dest)
    return render(out), notes, dests


def context_copies(dockerfile: str) -> list[str]:
    """Where `COPY r2e-repo/ DEST` steps put the repository copy."""
    out = []
    for ins in instructions(dockerfile):
        words = ins.text.split()
        if ins.keyword == "COPY" and len(words) == 3 and words[1].rstrip("/") == CONTEXT_REPO:
            out.append(words[2])
    return out


def _clone_target(part: str, repo: str) -> str | None:
    try:
        words = shlex.split(part)
    except ValueError:
        return None
    if words[:2] != ["git", "clone"]:
        return None
    args, skip = [], False
    for w in words[2:]:
        if skip:
            skip = False
            continue
        if w in ("-b", "--branch", "--depth", "-o", "--origin", "--reference", "-c", "--config", "-j", "--jobs"):
            skip = True
            continue
        if w.startswith("-"):
            continue
        args.append(w)
    if not args:
        return None
    url = args[0].rstrip("/").removesuffix(".git")
    want = repo.rstrip("/").removesuffix(".git")
    tail = want.split("/")[-2:] if "/" in want else [want]
    if url.split("/")[-len(tail):] != tail and url.rsplit("/", 1)[-1] != want.rsplit("/", 1)[-1]:
        return None
    return args[1] if len(args) > 1 else url.rsplit("/", 1)[-1]


def with_tail(dockerfile: str, steps: list[str]) -> str:
    """The Dockerfile with the fixes' steps appended after a marker (an earlier tail replaced)."""
    head = dockerfile.split(TAIL_MARK, 1)[0].rstrip("\n") + "\n"
    if not steps:
        return head
    return head + TAIL_MARK + "\n" + "\n".join(steps) + "\n"


def strip_tail(dockerfile: str, previous: str) -> str:
    """A Dockerfile edited from one with our tail (`previous`): the marker and our tail's lines taken out, the
    editor's own lines kept wherever they were put (the tail is derived again for the new text)."""
    if TAIL_MARK not in previous:
        return dockerfile
    ours = {line for line in previous.split(TAIL_MARK, 1)[1].splitlines() if line.strip()}
    kept = [line for line in dockerfile.splitlines() if line.strip() != TAIL_MARK and line not in ours]
    return "\n".join(kept).rstrip("\n") + "\n"
