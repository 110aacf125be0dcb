"""Emptying a worker's work area after each program, whatever the program left there.

``wipe(root)`` deletes everything beneath ``root`` without recursion (directory descriptors and a list of
names, so any depth and any path length), never follows a symbolic link, opens up directories created
with mode 0 before entering them, and never raises: False means something remains (or went wrong), and
the worker must then be replaced rather than hand a dirty work area, or a crash, to the next program.
"""

from __future__ import annotations

import os


def wipe(root: str) -> bool:
    """Empty ``root`` without recursion (any depth, any path length); False if anything remains.

    Never raises: a failure means the worker must be replaced, not that the next program is blamed.
    """
    try:
        return _empty_directory(root)
    except Exception:  # noqa: BLE001 - whatever went wrong, the answer is "not clean"
        return False


def _empty_directory(root: str, max_steps: int = 1 << 22) -> bool:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags)
    names: list[str] = []  # the path from ``root`` to ``fd``, one name per level
    try:
        for _ in range(max_steps):
            child = -1
            with os.scandir(fd) as entries:
                for entry in entries:
                    if not entry.is_dir(follow_symlinks=False):
                        os.unlink(entry.name, dir_fd=fd)
                        continue
                    try:
                        child = os.open(entry.name, flags, dir_fd=fd)
                    except PermissionError:  # a directory made with mode 0: open it up first
                        os.chmod(entry.name, 0o700, dir_fd=fd, follow_symlinks=False)
                        child = os.open(entry.name, flags, dir_fd=fd)
                    names.append(entry.name)
                    break
            if child >= 0:
                os.close(fd)
                fd = child
                continue
            if not names:
                return True
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
        return False
    finally:
        os.close(fd)
