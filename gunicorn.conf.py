"""gunicorn settings every FlowAuth server uses (gunicorn reads this file from the working directory).

Command-line options still win; these two are what the project relies on.
"""

# Tokens in request lines and query strings never reach gunicorn's logs.
logger_class = "flowauth.gunicorn_logging.RedactingLogger"


def pre_request(worker, req):
    # A body FlowAuth refuses unread must not be drained for keep-alive: close after answering.
    from flowauth.bodylimit import close_after_refusal

    close_after_refusal(req)
