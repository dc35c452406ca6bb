#!/usr/bin/env python3
"""Checks the relative links of Trainyard's Markdown documentation, run by ops/lint-deploy.

    check_links.py [FILE_OR_FOLDER]...     (default: README.md docs)

For every inline link or image `[text](target)`, reference definition `[label]: target` and
HTML `href="…"` / `src="…"` outside code, a relative target must name a file or folder inside
the repository, and a `#fragment` must name a heading (GitHub's anchor for it) or an explicit
`id`/`name` anchor of the Markdown file it points to. Links with a scheme (https:, mailto:) are
not followed. Prints one line per broken link ("file:line: problem") and exits 1 if it found any.
Standard library only.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGETS = ["README.md", "docs"]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"\b(?:href|src)=\"([^\"]*)\"")
HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:id|name)=\"([^\"]+)\"|\bid=\"([^\"]+)\"")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str, str]]:
    """The lines outside fenced code blocks: number, the line, the line with code spans blanked."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            lines.append((number, line, CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)))
    return lines


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lowercase, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # emphasis underscores, not snake_case
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_anchor_cache: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file defines: one per heading (duplicates numbered) plus explicit ids."""
    if path not in _anchor_cache:
        found: set[str] = set()
        seen: dict[str, int] = {}
        text = path.read_text(encoding="utf-8")
        for _, raw, line in prose_lines(text):
            heading = HEADING.match(raw)
            if heading:
                base = github_anchor(heading.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            for match in HTML_ANCHOR.finditer(line):
                found.add(match.group(1) or match.group(2))
        _anchor_cache[path] = found
    return _anchor_cache[path]


def check_target(source: Path, number: int, target: str, problems: list[str]) -> None:
    where = f"{source.relative_to(ROOT)}:{number}"
    if not target or SCHEME.match(target) or target.startswith("//"):
        return
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if path_part.startswith("/"):
        problems.append(f"{where}: {target}: absolute path; link relative to the file")
        return
    resolved = (source.parent / path_part).resolve() if path_part else source
    if not resolved.is_relative_to(ROOT):
        problems.append(f"{where}: {target}: points outside the repository")
        return
    if not resolved.exists():
        problems.append(f"{where}: {target}: no such file or folder")
        return
    if fragment:
        if resolved.suffix.lower() != ".md" or resolved.is_dir():
            return  # a line anchor into source (#L10) or a folder: nothing to check
        if unquote(fragment) not in anchors(resolved):
            problems.append(f"{where}: {target}: no heading or anchor #{fragment} in {resolved.relative_to(ROOT)}")


def check_file(path: Path, problems: list[str]) -> int:
    links = 0
    for number, _, line in prose_lines(path.read_text(encoding="utf-8")):
        targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
        targets += [m.group(1) for m in HTML_LINK.finditer(line)]
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        for target in targets:
            links += 1
            check_target(path, number, target, problems)
    return links


def main(arguments: list[str]) -> int:
    files: list[Path] = []
    for name in arguments or DEFAULT_TARGETS:
        path = (ROOT / name) if not Path(name).is_absolute() else Path(name)
        if path.is_dir():
            files += sorted(path.rglob("*.md"))
        elif path.exists():
            files.append(path)
        else:
            print(f"{name}: no such file or folder", file=sys.stderr)
            return 2
    problems: list[str] = []
    links = sum(check_file(path.resolve(), problems) for path in files)
    for problem in problems:
        print(problem)
    print(f"check_links: {len(files)} files, {links} links, {len(problems)} broken", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
