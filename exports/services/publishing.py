"""Publishing release files: written and fsynced in a staging folder, then swapped into place,
so no reader ever sees a partial file or a mix of two releases."""

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .formats import file_meta

STALE_STAGING_SECONDS = 3600


def release_files_publish(out_dir: Path, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Write ``files`` (relative path -> bytes) into ``out_dir`` so that no reader ever sees a
    partial file or a mix of two releases: everything is written and fsynced in a staging
    folder beside ``out_dir``, which is then renamed to ``out_dir``; an existing ``out_dir`` is
    first renamed aside (``.<name>.previous-*``) and removed once the new one is in place. A
    kill between those two renames leaves no ``out_dir`` and the previous release aside. A
    staging folder left by a killed run is removed by the next run once it is an hour old."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{out_dir.name}.staging-*"):
        if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.staging-"))
    try:
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        staging.chmod(0o755)
        if not out_dir.exists():
            os.rename(staging, out_dir)
        else:
            # Swap whole folders, so the files of two releases never sit side by side (a new
            # benchmark.jsonl beside an old manifest.json). Entries the new release does not
            # write (a team's own notes, say) are carried over afterwards.
            aside = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.previous-"))
            aside.rmdir()
            os.rename(out_dir, aside)
            os.rename(staging, out_dir)
            written = {Path(rel).parts[0] for rel in files}
            for entry in sorted(aside.iterdir()):
                if entry.name not in written:
                    os.rename(entry, out_dir / entry.name)
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {rel: file_meta(data) for rel, data in files.items()}
