"""Every module a target imports is declared in Package.swift.

SwiftPM's --explicit-target-dependency-import-check only checks imports of this package's own
targets; a product of another package that is reachable only through some other dependency
(e.g. HummingbirdCore through Hummingbird) builds without it. This reads the package
description (swift package dump-package), takes each target's declared targets and products,
and fails naming every `import` of a module that is neither declared nor part of the toolchain.

    python3 check_imports.py PACKAGE_DUMP_JSON PACKAGE_ROOT
"""

import json
import pathlib
import re
import sys

# Modules of the toolchain and the C library: nothing to declare.
TOOLCHAIN = {
    "Foundation", "FoundationEssentials", "FoundationInternationalization", "FoundationNetworking",
    "Glibc", "Musl", "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest", "_Concurrency",
    "Swift", "os", "RegexBuilder", "Observation",
}
# Imports that cannot be declared, each with the reason (checked to still exist: a stale entry fails).
UNDECLARABLE = {
    ("TrainyardCore", "CYaml"): "Yams' libyaml module; Yams vends no product for it, and SpecYAMLReader "
    "needs libyaml's event API to refuse aliases before any tree is built (see its doc comment)",
}
IMPORT = re.compile(r"^(?:@testable\s+|@_implementationOnly\s+|@preconcurrency\s+|(?:public|package|internal)\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def declared(target):
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def main(dump_path, root):
    package = json.loads(pathlib.Path(dump_path).read_text())
    root = pathlib.Path(root)
    problems, used_exceptions = [], set()
    for target in package["targets"]:
        name = target["name"]
        if target.get("type") in ("system", "binary", "plugin"):
            continue
        default = "Tests" if target.get("type") == "test" else "Sources"
        directory = root / (target.get("path") or f"{default}/{name}")
        allowed = declared(target) | TOOLCHAIN | {name}
        for source in sorted(directory.rglob("*.swift")):
            for module in IMPORT.findall(source.read_text(encoding="utf-8")):
                if module in allowed:
                    continue
                if (name, module) in UNDECLARABLE:
                    used_exceptions.add((name, module))
                    continue
                problems.append(f"{source.relative_to(root)}: imports {module}, which target {name} does not declare in Package.swift")
    for stale in sorted(set(UNDECLARABLE) - used_exceptions):
        problems.append(f"check_imports.py: exception {stale} is no longer needed; remove it")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"imports: every module imported by {len(package['targets'])} targets is declared "
              f"({len(used_exceptions)} known exception: {', '.join(m for _, m in sorted(used_exceptions))})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
