"""File storage helpers shared by the apps (settings' ``STORAGES``).

- ``SettingFolderStorage``: a local folder named by a setting read on every use (as Django's
  default storage follows ``MEDIA_ROOT``), so a test or a command that moves the setting moves
  the storage; files are written whole (a temporary file renamed into place) and overwritten.
- ``storage_stream``: a stored file opened for reading in chunks, with its size: a local file
  as it is, an S3 object as the HTTP body boto3 streams (django-storages' ``S3File`` would
  first copy the whole object to a temporary file before the first byte could be sent)."""

import os
import sys
import tempfile
from contextlib import suppress
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage

# Permissions of a file written by SettingFolderStorage unless its file_permissions_mode says
# otherwise (a temporary file is created 0600; the process umask cannot be read thread-safely).
DEFAULT_FILE_MODE = 0o644


class SettingFolderStorage(FileSystemStorage):
    """A folder storage whose root is ``settings.<setting>``, read on every use.

    Unlike FileSystemStorage, a file is written to a temporary name in its folder, fsynced and
    renamed over the name asked for: a reader never sees half a file, and saving a name that
    exists replaces it (``allow_overwrite``) instead of picking another name."""

    def __init__(self, *, setting: str = "RELEASES_DIR", **kwargs: Any) -> None:
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)
        self.setting = setting

    @property
    def base_location(self) -> str:
        return str(getattr(settings, self.setting))

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def _save(self, name: str, content: "File[Any]") -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in content.chunks():
                    fh.write(chunk.encode() if isinstance(chunk, str) else chunk)
                fh.flush()
                os.fsync(fh.fileno())
            mode = self.file_permissions_mode
            os.chmod(partial, DEFAULT_FILE_MODE if mode is None else mode)
            os.replace(partial, full_path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(partial)
            raise
        return os.path.relpath(full_path, self.location).replace("\\", "/")


def storage_stream(storage: Storage, name: str) -> tuple[IO[bytes], int]:
    """``name`` in ``storage`` opened for reading in chunks, and its size in bytes. An object
    in S3-compatible storage is the response body of one GET, read from the network as the
    caller reads it: never held whole in memory nor copied to a temporary file. The caller
    closes it. Raises FileNotFoundError if there is no such file."""
    stored = storage.open(name, "rb")
    # An S3 storage imported django-storages' module; without one there is nothing to import.
    s3 = sys.modules.get("storages.backends.s3")
    if s3 is None or not isinstance(stored, s3.S3File):
        return stored, stored.size
    response = stored.obj.get()
    stored.close()
    return response["Body"], int(response["ContentLength"])
