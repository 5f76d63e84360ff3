"""Keep native libraries' start-up chatter off the user's terminal, without hiding real errors.

TensorFlow's C++ core logs through absl/glog straight to file descriptor 2: on some hosts, importing it prints
``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR`` and informational lines
such as ``I0000 00:00:... port.cc:153] oneDNN custom operations are on ...``, whatever ``TF_CPP_MIN_LOG_LEVEL`` says
(they are written before the variable is read). Jupyter kernels started by the book runner inherit the same
descriptor and add ``[IPKernelApp] WARNING | Kernel is running over TCP without encryption``. None of these can be
switched off from Python, so ``quiet_native_stderr`` puts a pipe in front of descriptor 2 and forwards every line except
those (glog *informational* lines and the two fixed notices). Warnings, errors and fatal lines of glog, Python
tracebacks and everything else pass through unchanged and in order.

The filter forwards whole lines only, so a live progress display (which redraws one line with carriage returns)
must not go through it: it would show only when its line ends, and a child's start-up line written after a redraw
would join the display's line and escape the filter. ``progress_stream`` is the stream for such displays: the
terminal itself while the filter is on.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

#: Lines dropped: glog informational lines (``I`` + MMDD + time + thread + file:line]), absl's pre-init notice,
#: ipykernel's notice about its local TCP transport, and its note that the kernel was interrupted while being shut
#: down at the end of a chapter. Nothing else is ever dropped.
NOISE = (
    re.compile(rb"^I\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./+-]+:\d+\] "),
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\s*$"),
    re.compile(rb"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
    re.compile(rb"^\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in kernel\.$"),
)


def is_noise(line: bytes) -> bool:
    """True for a start-up line of TensorFlow's C++ core or ipykernel that carries no information for the user."""
    return any(p.match(line) for p in NOISE)


@contextlib.contextmanager
def quiet_native_stderr():
    """Within the block, descriptor 2 (of this process and of every child it starts) goes through a filter that
    drops ``NOISE`` lines and forwards the rest to the original stderr. Python's ``sys.stderr`` is flushed around the
    switch, so output keeps its order. Nested use is a no-op."""
    if getattr(quiet_native_stderr, "active", False):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out = b"".join(line + b"\n" for line in lines if not is_noise(line))
                if out:
                    os.write(saved, out)
        if pending and not is_noise(pending):
            os.write(saved, pending)

    thread = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    thread.start()
    quiet_native_stderr.active = True
    quiet_native_stderr.terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield
    finally:
        quiet_native_stderr.active = False
        quiet_native_stderr.terminal.close()
        quiet_native_stderr.terminal = None
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end held by this process: the thread sees end of file
        thread.join(timeout=5)  # children that still hold the pipe (none normally) cannot block the exit
        if not thread.is_alive():
            os.close(saved)


def progress_stream():
    """Where live progress displays write: the terminal behind the filter while ``quiet_native_stderr`` is on
    (bypassing it: see the module docstring), else ``sys.stderr``."""
    return getattr(quiet_native_stderr, "terminal", None) or sys.stderr


KERNEL_CONFIG = """# Written by ewc.console.quiet_kernels: keep native output (TensorFlow C++ start-up lines)
# out of the chapters. Without this, ipykernel captures descriptor 2 and puts those lines into whichever cell is
# running; with it they go to the kernel's own stderr, which the book runner filters (quiet_native_stderr).
c.IPKernelApp.capture_fd_output = False
"""


def quiet_kernels(ipython_dir) -> str:
    """Write an IPython directory whose kernel profile leaves descriptor-level output on the kernel's stderr instead
    of copying it into cell outputs; returns it, for ``$IPYTHONDIR`` of the kernels a runner starts."""
    from pathlib import Path

    config = Path(ipython_dir) / "profile_default" / "ipython_kernel_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    if not config.is_file() or config.read_text() != KERNEL_CONFIG:
        config.write_text(KERNEL_CONFIG)
    return str(ipython_dir)
