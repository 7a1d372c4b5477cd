"""docs/benchmarks.md is written by several benchmarks, one section each.

Each benchmark replaces only its own section (between ``<!-- section:NAME -->`` markers), so
running one never erases another's figures; a section seen for the first time is appended.
Headings are demoted one level so every report sits under the page's single title.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"

PREAMBLE = """# Benchmarks

Every figure here is measured, with the machine and the date, by the command named in its section
(`make bench` runs them all). Do not edit by hand: run the command again; each one rewrites only
its own section.
"""


def _demote(markdown: str) -> str:
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", markdown.strip(), flags=re.M)


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    begin, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{begin}\n{_demote(markdown)}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else PREAMBLE
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cpu_model() -> str:
    """The processor's name, for the machine line of a report."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
