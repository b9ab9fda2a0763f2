"""A tiny launcher that runs one command and records its wall time and ``ru_maxrss``.

Why a launcher: Linux starts a child's ``ru_maxrss`` at the high-water mark of the process that
forked it (the memory image it replaces at ``exec``), so a child of the benchmark harness, which
grows while it generates and checks media, would inherit the harness's peak. This launcher stays
a few MB, so what it reports is the command's own peak.

    python -I -S benchmarks/spawn.py RESULT.json -- COMMAND [ARGS...]

Only the standard library, no site packages: it must stay small.
"""

import json
import os
import sys
import time


def main() -> int:
    result_path, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        print("usage: spawn.py RESULT.json -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    started = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall_s = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result_path, "w") as result:
        json.dump(
            {
                "wall_s": wall_s,
                "maxrss_kib": usage.ru_maxrss,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "exit_code": code,
            },
            result,
        )
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
