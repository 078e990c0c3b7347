"""The base of every curation command: domain errors become a clear message and a non-zero
exit, not a traceback; input files are read as UTF-8 with a progress bar."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from .errors import DomainError
from .http import error_problems


class CurationCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            lines = [exc.message]
            errors = exc.details.get("errors")
            if isinstance(errors, dict):
                lines += [
                    f"  {field}: {'; '.join(map(str, msgs))}" for field, msgs in errors.items()
                ]
            elif errors:
                lines += [f"  {problem}" for problem in error_problems(exc)]
            raise CommandError("\n".join(lines)) from exc

    @contextmanager
    def lines_with_progress(
        self, path: Path, *, desc: str, disable: bool = False
    ) -> Iterator[tuple[TextIO, Callable[[int], Any]]]:
        """The open UTF-8 file and a progress callback (one call per line read) drawing a bar
        on stderr. A missing or non-UTF-8 file is a CommandError naming it."""
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with path.open("rb") as fh:
            total = sum(1 for _ in fh)
        # The stream OutputWrapper wraps (its write() would add a newline to every redraw); the
        # stubs do not declare ``_out``.
        stream = cast(TextIO, self.stderr._out)
        bar = tqdm(total=total, unit="line", desc=desc, disable=disable, file=stream)
        try:
            with path.open(encoding="utf-8", errors="strict") as fh:
                yield fh, bar.update
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start}).") from exc
        finally:
            bar.close()
