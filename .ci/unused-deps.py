#!/usr/bin/env python3
"""Fail on a dependency no code of its package names.

What cargo-machete does (a text search), without compiling it on every CI machine: for
each workspace package, every crate in [dependencies], [dev-dependencies] and
[build-dependencies] must appear as a word (`name::`, `use name`, `name!`) in that
package's .rs files. A real false positive goes in that Cargo.toml's
[package.metadata.cargo-machete] `ignored` list, with a comment why.
"""
import pathlib
import re
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
workspace = tomllib.loads((root / "Cargo.toml").read_text())
packages = [root] + [root / m for m in workspace.get("workspace", {}).get("members", [])]
unused = []
for pkg in packages:
    manifest = tomllib.loads((pkg / "Cargo.toml").read_text())
    ignored = set(
        manifest.get("package", {}).get("metadata", {}).get("cargo-machete", {}).get("ignored", [])
    )
    nested = [p for p in packages if p != pkg and pkg in p.parents]
    sources = [
        f.read_text(errors="replace")
        for f in pkg.rglob("*.rs")
        if "target" not in f.relative_to(pkg).parts and not any(n in f.parents for n in nested)
    ]
    text = "\n".join(sources)
    for table in ("dependencies", "dev-dependencies", "build-dependencies"):
        for name in manifest.get(table, {}):
            ident = name.replace("-", "_")
            if name in ignored or re.search(rf"\b{re.escape(ident)}\b", text):
                continue
            unused.append(f"{(pkg / 'Cargo.toml').relative_to(root)}: [{table}] {name}")
if unused:
    print("dependencies no code names (remove them, or list a false positive in "
          "[package.metadata.cargo-machete] ignored with a comment):", file=sys.stderr)
    for line in unused:
        print(f"  {line}", file=sys.stderr)
    sys.exit(1)
print(f"every dependency of {len(packages)} packages is used")
