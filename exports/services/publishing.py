"""Publishing release files: written and fsynced in a staging folder, then swapped into place,
so no reader ever sees a partial file or a mix of two releases; then, for a release job, saved
into the releases storage (``storages["releases"]``: a local folder or an S3 bucket)."""

import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.core.files import File
from django.core.files.storage import Storage, storages

STALE_STAGING_SECONDS = 3600


def release_staging_open(out_dir: Path) -> Path:
    """A new, empty staging folder beside ``out_dir`` for the files of a release, written
    (and fsynced) there one by one, then moved into place by ``release_staging_publish``; the
    caller removes it if the build fails. A staging folder left by a killed run is removed by
    a later run once it is an hour old."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{out_dir.name}.staging-*"):
        if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.staging-"))


def release_staging_publish(out_dir: Path, staging: Path, *, written: Iterable[str]) -> None:
    """Rename the staging folder (holding the files ``written``) to ``out_dir``; an existing
    ``out_dir`` is first renamed aside (``.<name>.previous-*``) and removed once the new one is
    in place. A kill between those two renames leaves no ``out_dir`` and the previous release
    aside."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    staging.chmod(0o755)
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    # Swap whole folders, so the files of two releases never sit side by side (a new
    # benchmark.jsonl beside an old manifest.json). Entries the new release does not write (a
    # team's own notes, say) are carried over afterwards.
    aside = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.previous-"))
    aside.rmdir()
    os.rename(out_dir, aside)
    os.rename(staging, out_dir)
    top = {Path(rel).parts[0] for rel in written}
    for entry in sorted(aside.iterdir()):
        if entry.name not in top:
            os.rename(entry, out_dir / entry.name)
    shutil.rmtree(aside, ignore_errors=True)


def _stored_names(storage: Storage, folder: str) -> Iterator[str]:
    """Every file under ``folder`` of ``storage`` (recursively), as storage names."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _stored_names(storage, f"{folder}/{sub}")


def release_files_store(
    *, source: Path, names: Iterable[str], prefix: str, storage: Storage | None = None
) -> list[str]:
    """Save the files ``names`` (paths relative to the local folder ``source``) into
    ``storage`` (default: ``storages["releases"]``) as ``<prefix>/<name>``, each read from disk
    in chunks, replacing a file of the same name (a release built again by a redelivered job);
    then delete what an earlier attempt stored under ``prefix`` and this one did not write.
    Returns the storage names. The release must not be readable (done) until this returns:
    nothing serves the files of a release that is not done."""
    storage = storage or storages["releases"]
    prefix = prefix.strip("/")
    stored = []
    for name in names:
        key = f"{prefix}/{name}"
        with open(Path(source) / name, "rb") as fh:
            saved = storage.save(key, File(fh, name=key))
        if saved != key:  # a storage configured to rename instead of overwrite
            raise RuntimeError(
                f"The releases storage saved {key!r} as {saved!r}: it must overwrite files "
                "(file_overwrite / allow_overwrite)."
            )
        stored.append(key)
    for leftover in set(_stored_names(storage, prefix)) - set(stored):
        storage.delete(leftover)
    return stored
