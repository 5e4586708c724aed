#!/usr/bin/env python3
"""Drives a program on a pseudo-terminal, as a person at a terminal would:
for each STEP, waits (with a deadline) until the output so far matches a
regular expression, then types a line. Used by console.bats, where typing
ahead of the prompt would race the line editor's switch to raw mode.

    pty_drive.py TIMEOUT CMD... -- EXPECT SEND [EXPECT SEND ...]

SEND is typed followed by a newline; the SEND `^D` types Ctrl-D, again
every 0.2 s until the program ends (one typed while the line editor
switches the terminal's mode can be lost). Prints the whole output at the
end; exits 1 when an EXPECT was not met or the program did not end in
time, else with the program's exit status."""
import os
import pty
import re
import select
import sys
import time


def main():
    timeout = float(sys.argv[1])
    sep = sys.argv.index("--")
    cmd, steps = sys.argv[2:sep], sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""

    def read_until(pattern, deadline):
        nonlocal out
        while not re.search(pattern.encode(), out):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return re.search(pattern.encode(), out) is not None
                if not chunk:
                    return False
                out += chunk
        return True

    ok = True
    for i in range(0, len(steps), 2):
        deadline = time.monotonic() + timeout
        if not read_until(steps[i], deadline):
            sys.stderr.write("pty_drive: no match for %r in time\n" % steps[i])
            ok = False
            break
        send = steps[i + 1]
        os.write(fd, b"\x04" if send == "^D" else send.encode() + b"\r")
    eof = ok and steps and steps[-1] == "^D"
    deadline = time.monotonic() + timeout
    ended = None
    while ok and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        try:
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            chunk = b""
        out += chunk
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended = status
            break
        if eof and not ready:
            os.write(fd, b"\x04")
    if ended is None:
        ok = False
        sys.stderr.write("pty_drive: the program did not end in time\n")
    sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
    if not ok:
        if ended is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        return 1
    return os.waitstatus_to_exitcode(ended)


sys.exit(main())
