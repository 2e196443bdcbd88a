"""``make run``: the development server and a task worker side by side.

Both stop together: on Ctrl-C (or SIGTERM), or as soon as either exits.
Usage: python -m flowauth.devrun HOST:PORT
"""

import signal
import subprocess
import sys
import time


def main(address: str) -> int:
    commands = [
        [sys.executable, "manage.py", "runserver", address],
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay"],
    ]
    processes = [subprocess.Popen(command) for command in commands]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    status = 0
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        status = next(process.returncode for process in processes if process.returncode is not None)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000"))
