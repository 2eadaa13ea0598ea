#!/usr/bin/env python3
"""Nothing a test, benchmark or Makefile target reads lies outside the repository.

A clone of the repository alone must pass `make test`: fixtures live in Tests/, each with its
licence beside it. This scans what the tests, benchmarks and targets are made of for paths that
leave the repository: relative paths climbing above its root, `#filePath`-based paths climbing
above it, and absolute paths into the folder that holds the checkout (its siblings exist only
on the machine it was cloned on).
`--self-test` first shows that each kind of escape is caught.
"""
import os
import re
import subprocess
import sys
import tempfile

SCANNED = ("Makefile", ".ci/", "Tests/", "bench/", "connectors/", "Package.swift")
CODE = (".swift", ".py", ".sh", ".mk", ".json", ".txt", ".cfg", ".conf", "")
CLIMB = re.compile(r"(?:\.\./)+[^\s\"'`)]*")
FILEPATH = re.compile(r"#filePath")
SELF = "Tests/SelfContained/check.py"
UP = re.compile(r"deletingLastPathComponent\(\)")


def files(root):
    try:
        listed = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        listed = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) if "/.build" not in d and "/.git" not in d for f in fs]
    for path in listed:
        # This check names what it looks for, and fixtures are data, not what reads it.
        if not path or not path.startswith(SCANNED) or "/Fixtures/" in path or path == SELF:
            continue
        if os.path.splitext(path)[1] not in CODE and not path.endswith("Makefile"):
            continue
        yield path


def escapes(root, base, relative):
    target = os.path.normpath(os.path.join(base, relative))
    return not (target == root or target.startswith(root + os.sep))


def scan(root):
    root = os.path.realpath(root)
    # Beside the checkout: what a person who clones the project elsewhere does not have.
    beside = re.compile(re.escape(os.path.dirname(root) + os.sep) + r"(?!" + re.escape(os.path.basename(root)) + r"(?:/|\b))")
    found = []
    for path in files(root):
        full = os.path.join(root, path)
        try:
            lines = open(full, encoding="utf-8").read().split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        depth = path.count("/")  # folders between the root and the file
        for number, line in enumerate(lines, 1):
            where = f"{path}:{number}"
            if beside.search(line):
                found.append(f"{where}: names a place beside the repository: {line.strip()}")
            for match in CLIMB.finditer(line):
                # `file:../..` are hostile inputs the platform must refuse, not paths it reads.
                if line[max(0, match.start() - 5):match.start()].endswith("file:"):
                    continue
                relative = match.group(0)
                # Make and the tests run at the root, and a script may resolve against its own
                # folder: a path that leaves the repository either way is refused.
                if escapes(root, root, relative) or escapes(root, os.path.dirname(full), relative):
                    found.append(f"{where}: climbs out of the repository: {relative}")
            if FILEPATH.search(line):
                statement = " ".join(lines[number - 1:number + 2])
                ups = len(UP.findall(statement))
                # One step up leaves the file, each further step a folder.
                if ups > depth + 1:
                    found.append(f"{where}: #filePath climbs {ups} levels from a file {depth} folders deep")
    return found


def self_test():
    with tempfile.TemporaryDirectory() as folder:
        root = os.path.join(folder, "repo")
        os.makedirs(os.path.join(root, "Tests", "A"))
        os.makedirs(os.path.join(root, "Tests", "Fixtures"))
        sibling = os.path.join(folder, "samples", "gtfs.zip")
        cases = {
            "Tests/A/beside.swift": 'let url = URL(fileURLWithPath: "../samples/gtfs.zip")\n',
            "Tests/A/up.swift": 'let x = URL(fileURLWithPath: #filePath).deletingLastPathComponent()\n    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()\n',
            "Tests/A/climb.py": 'open("../../../elsewhere/data.json")\n',
            "Makefile": f"test:\n\tcp {sibling} .\n",
        }
        harmless = {
            "Tests/A/fine.swift": 'let x = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()\nlet y = "Tests/Fixtures/a.json"\n',
            "Tests/A/inside.py": f'open("{os.path.join(root, "Tests", "Fixtures", "a.json")}")\n',
            "Tests/A/hostile.swift": 'let url = "file:../../../../etc/hostname"\n',
            "Tests/Fixtures/data.json": '{"path": "../samples/gtfs.zip"}\n',
        }
        for name, text in {**cases, **harmless}.items():
            with open(os.path.join(root, name), "w", encoding="utf-8") as f:
                f.write(text)
        found = scan(root)
        flagged = {entry.split(":")[0] for entry in found}
        print("\n".join(f"  caught {entry}" for entry in found))
        assert flagged == set(cases), f"self-test: expected {sorted(cases)} flagged, got {found}"
    print("self-contained check: each kind of escape is caught")


def main():
    if "--self-test" in sys.argv:
        self_test()
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    found = scan(root)
    for entry in found:
        print(entry, file=sys.stderr)
    if found:
        sys.exit(f"{len(found)} place(s) read outside the repository; copy what a test needs into Tests/ with its licence")
    print("self-contained check: nothing read outside the repository")


if __name__ == "__main__":
    main()
