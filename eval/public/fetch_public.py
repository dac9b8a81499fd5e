"""Copy the public labelled corpora into eval/data/ (git-ignored) from a local copy; no network.

Two kinds of source, both local:

- ``--mirror DIR``: a directory of git snapshots laid out ``DIR/<owner>+<name>/repo`` (a bare
  git directory, or a repository whose ``.git`` is inside), as the project's snapshot tool
  writes them. Each file is read by its git blob id, so any snapshot holding that blob works.
- ``--from DIR``: a plain copy laid out like eval/data (``DIR/<corpus>/<file>``), e.g. an
  earlier run's output or /work/data-public.

Every copied file is checked against the blob id recorded in ``pub_sources.py``; a file that
differs is refused. Missing sources are listed with the repository, commit and path to get them
from, and the exit code is 1. Usage: ``python eval/public/fetch_public.py --mirror DIR
[--dest eval/data] [--corpus NAME ...]``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pub_sources import CORPORA, FILES, SourceFile

DEFAULT_DEST = Path(__file__).resolve().parents[1] / "data"


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _git_dir(mirror: Path, repo: str) -> Path | None:
    base = mirror / repo.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "objects").is_dir():
            return candidate
    return None


def _from_mirror(mirror: Path, spec: SourceFile) -> bytes | None:
    git_dir = _git_dir(mirror, spec.repo)
    if git_dir is None:
        return None
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "--git-dir", str(git_dir), "cat-file", "blob", spec.blob],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def _from_copy(root: Path, spec: SourceFile) -> bytes | None:
    path = root / spec.corpus / spec.dest
    return path.read_bytes() if path.is_file() else None


def fetch(
    *, mirror: Path | None, copy: Path | None, dest: Path, corpora: tuple[str, ...]
) -> list[SourceFile]:
    """Copy the files of ``corpora`` into ``dest``; return the specs that could not be had."""
    missing: list[SourceFile] = []
    for spec in FILES:
        if spec.corpus not in corpora:
            continue
        target = dest / spec.corpus / spec.dest
        if target.is_file() and blob_id(target.read_bytes()) == spec.blob:
            continue
        data = None
        if copy is not None:
            data = _from_copy(copy, spec)
        if data is None and mirror is not None:
            data = _from_mirror(mirror, spec)
        if data is None or blob_id(data) != spec.blob:
            missing.append(spec)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, help="directory of git snapshots (owner+name)")
    parser.add_argument("--from", dest="copy", type=Path, help="plain copy: <corpus>/<file>")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--corpus", action="append", choices=CORPORA)
    args = parser.parse_args(argv)
    if args.mirror is None and args.copy is None:
        parser.error("give --mirror DIR or --from DIR (nothing is downloaded)")
    corpora = tuple(args.corpus or CORPORA)
    missing = fetch(mirror=args.mirror, copy=args.copy, dest=args.dest, corpora=corpora)
    had = sum(1 for f in FILES if f.corpus in corpora) - len(missing)
    print(f"{had} file(s) in place under {args.dest}")
    if missing:
        print("missing or different (get a snapshot of the repository, then run again):")
        for spec in missing:
            print(f"  {spec.corpus}/{spec.dest}: github.com/{spec.repo} @ {spec.commit[:12]}"
                  f" {spec.path} (blob {spec.blob[:12]}, {spec.size} bytes)")  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
