"""The ``loopback`` commands' side of the API: one request at a time over HTTP, never the database.

``errors`` says what stopped a command and the exit code a script sees, ``connection`` where the
API URL and token come from, ``http`` the client that makes the requests, ``output`` how an answer
is shown, ``options`` the options every command shares, ``command`` how a command ends on an
error, and ``login`` the ``loopback login|logout`` commands. It stands on ``loopback.kit`` alone,
below the domain packages whose ``cli`` modules use it.
"""
