"""Running the task queue for real in tests.

In a test's transaction, tasks run through django-tasks-db's own Worker.run_task
(what ``db_worker`` does per task, without closing the test's connection);
the multi-process tests start a real ``manage.py db_worker`` instead.
"""

import subprocess
import sys
from contextlib import contextmanager

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tests.servers import BASE_DIR, server_env


def run_worker() -> int:
    """Claim and run every ready task (and any they enqueue); returns how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )
    ran = 0
    while True:
        result = DBTaskResult.objects.ready().filter(backend_name="default").order_by("enqueued_at").first()
        if result is None:
            return ran
        result.claim("tests")
        worker.run_task(result)
        ran += 1


@contextmanager
def db_worker_process(**env):
    """A real ``manage.py db_worker`` process on the test database."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"],
        cwd=BASE_DIR,
        env=server_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
