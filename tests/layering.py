#!/usr/bin/env python3
"""layering.py - unit.layering: every #include points down the layers.

Usage: layering.py SOURCE_ROOT LAYERS_FILE

Reads every #include in the .c/.h files of bot/ commands/ adapters/
config/ and checks it against the rules in LAYERS_FILE (tests/layers.txt,
which says what the rules are). Fails, naming file, line and rule, on:
an include its layer may not make, a file or "header" in no layer, a
cycle between modules (foo.c + foo.h), an exception that no longer
matches an include, and a malformed rule line. Stdlib only.
"""
import os
import re
import sys

SCAN_DIRS = ("bot", "commands", "adapters", "config")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*(<[^>]+>|"[^"]+")')


class Rules:
    def __init__(self, path):
        self.path = path
        self.layers = []      # (prefix, name, lineno), longest prefix first
        self.allow = {}       # name -> (set of names, lineno)
        self.excepts = {}     # (file, header) -> [reason, lineno, used]
        self.errors = []
        names = set()
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                kind, _, rest = line.partition(" ")
                head, sep, tail = rest.partition(":")
                if not sep or not tail.strip():
                    self.errors.append(f"{path}:{n}: expected '{kind} ...: ...'")
                    continue
                if kind == "layer":
                    names.add(head.strip())
                    for prefix in tail.split():
                        self.layers.append((prefix, head.strip(), n))
                elif kind == "allow":
                    self.allow[head.strip()] = (set(tail.split()), n)
                elif kind == "except":
                    src, arrow, hdr = head.partition("->")
                    if not arrow:
                        self.errors.append(f"{path}:{n}: expected 'except FILE -> HEADER: WHY'")
                        continue
                    self.excepts[(src.strip(), hdr.strip())] = [tail.strip(), n, False]
                else:
                    self.errors.append(f"{path}:{n}: unknown rule '{kind}'")
        self.layers.sort(key=lambda t: -len(t[0]))
        for name, (allowed, n) in self.allow.items():
            for other in sorted((allowed | {name}) - names):
                self.errors.append(f"{path}:{n}: allow {name}: unknown layer '{other}'")
        for name in sorted(names):
            if not name.startswith("lib.") and name not in self.allow:
                self.errors.append(f"{path}: layer '{name}' has no 'allow {name}:' line")

    def layer_of(self, key):
        """Layer of a source path, or of a header as spelled ("x" or <x>)."""
        for prefix, name, _ in self.layers:
            if key.startswith(prefix):
                return name
        return None


def scan(root):
    """Yield (path, lineno, header-as-spelled) for every include."""
    for top in SCAN_DIRS:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                full = os.path.join(d, name)
                rel = os.path.relpath(full, root)
                yield rel, 0, None
                with open(full, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE_RE.match(line)
                        if m:
                            yield rel, n, m.group(1)


def module(path):
    return os.path.splitext(path)[0]


def find_cycle(graph):
    """One cycle in {module: {module: (file, line)}} as a list, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {m: WHITE for m in graph}
    stack = []

    def visit(m):
        colour[m] = GREY
        stack.append(m)
        for nxt in sorted(graph.get(m, {})):
            if colour.get(nxt, WHITE) == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt, WHITE) == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[m] = BLACK
        return None

    for m in sorted(graph):
        if colour[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root, rules_path = argv[1], argv[2]
    rules = Rules(rules_path)
    rel_rules = os.path.relpath(rules_path, root) if os.path.isabs(rules_path) else rules_path
    errors = list(rules.errors)
    graph = {}
    files = edges = 0
    for path, n, hdr in scan(root):
        src = rules.layer_of(path)
        if hdr is None:
            files += 1
            graph.setdefault(module(path), {})
            if src is None:
                errors.append(f"{path}: in no layer (add its folder to a 'layer' line in {rel_rules})")
            continue
        edges += 1
        quoted = hdr.startswith('"')
        key = hdr[1:-1] if quoted else hdr
        dst = rules.layer_of(key)
        if dst is None:
            if quoted:
                errors.append(f"{path}:{n}: #include {hdr}: header in no layer ({rel_rules})")
            continue  # libc / POSIX header
        exc = rules.excepts.get((path, hdr))
        if exc:
            exc[2] = True
            continue
        if src is None:
            continue  # reported above
        allowed, allow_line = rules.allow.get(src, (set(), 0))
        if dst != src and dst not in allowed:
            errors.append(
                f"{path}:{n}: #include {hdr}: layer '{src}' may not include layer '{dst}'"
                f" (rule {rel_rules}:{allow_line}: allow {src}: {' '.join(sorted(allowed))})")
        if quoted and module(key) != module(path):
            graph.setdefault(module(path), {}).setdefault(module(key), (path, n))
    for (path, hdr), (_, n, used) in sorted(rules.excepts.items()):
        if not used:
            errors.append(f"{rel_rules}:{n}: stale exception '{path} -> {hdr}': no such include; remove the line")
    cycle = find_cycle(graph)
    if cycle:
        where = ", ".join("%s:%d" % graph[a][b] for a, b in zip(cycle, cycle[1:]))
        errors.append(f"include cycle {' -> '.join(cycle)} ({where});"
                      f" break it, or name the edge in an 'except' line in {rel_rules}")
    for e in errors:
        print(e)
    status = "FAILED" if errors else "ok"
    print(f"layering: {files} files, {edges} includes, {len(rules.excepts)} exceptions: {status}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
