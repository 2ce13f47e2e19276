"""Where infermem writes: one guard for every output path, and atomic writes.

Every command that writes a file goes through `check_output` before it does
any work and through `atomic_write` (or `write_bytes` / `write_text`) to
write.  The rules, the same everywhere:

- an output may not be the same file as any input: not by name, not through
  `..`, a symlink or a hard link (compared by device and inode);
- an output may not be a directory, and its parent folder must exist
  (infermem never creates folders you did not ask for);
- an existing file is replaced only with `force=True` (the CLI's `--force`);
- the bytes go to a temporary file in the same folder, which is renamed over
  the target only when complete, so a failure never leaves a half-written
  file; the new file gets the user's normal mode (0666 minus the umask).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from .errors import BadInput

StrPath = str | os.PathLike


def check_output(
    path: StrPath,
    inputs: Iterable[StrPath | None] = (),
    *,
    force: bool = False,
    what: str = "output",
) -> Path:
    """Return `path` as a Path if infermem may write it, else raise BadInput."""
    text = os.fspath(path)
    if not text or text.strip() != text or "\0" in text:
        raise BadInput(f"{what} path {text!r} is not a usable file name")
    out = Path(text)
    if out.is_dir():
        raise BadInput(f"{what} {out} is a directory; give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"{what} {out}: folder {parent} does not exist (create it first)")
    for src in inputs:
        if src is not None and same_file(out, Path(src)):
            raise BadInput(f"{what} {out} is the input {src}; refusing to overwrite it")
    if (out.exists() or out.is_symlink()) and not force:
        raise BadInput(f"{what} {out} already exists; use --force to replace it")
    return out


def same_file(a: Path, b: Path) -> bool:
    """Same file by resolved name or by inode (hard links, symlinks, `..`)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        return True  # a symlink loop: refuse rather than guess
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: StrPath) -> Iterator[Path]:
    """A temporary file name beside `path` (same extension) for tools that write
    by name (onnx.save, onnxruntime, TFLM's aligner); renamed over `path` when
    the block ends without error, removed otherwise.  Call `check_output` first."""
    dst = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dst.name}.", suffix=f".part{dst.suffix}", dir=dst.parent or "."
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, dst)  # a symlink at dst is replaced itself, not its target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(path: StrPath, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` on success.

    On any exception the temporary file is removed and `path` is untouched.
    Call `check_output` first: this function does not re-check the rules.
    """
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as f:
        yield f


def write_bytes(path: StrPath, data: bytes) -> Path:
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: StrPath, text: str) -> Path:
    with atomic_write(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return Path(path)


def written(path: StrPath, what: str = "wrote") -> None:
    """The one-line confirmation every command prints on stderr for a file it wrote."""
    import sys

    print(f"infermem: {what} {path}", file=sys.stderr)
