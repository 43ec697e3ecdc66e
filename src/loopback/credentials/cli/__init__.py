"""``loopback credentials issue|list|show|rotate|update|revoke``: a project's S3 access keys, from a shell.

A thin client of the credential routes of API v3. Buckets are named as ``loopback buckets`` names
them (name or id; organization and project from the flags, the environment or the only ones there
are). A credential is named by its id (``crd_...``) or its access key id, found in the project's
list of keys.

``issue`` and ``rotate`` print the secret this once: with lines ready for a ``.env`` file, or, with
``--format``, exactly the file the API renders for that tool (``env``, ``aws-credentials``,
``aws-config``, ``rclone``, ``s3cmd``, ``kubernetes``) and nothing else on stdout, so that
``loopback credentials issue my-bucket --format env > .env`` is the whole job.

The rooms: ``keys`` names a key and the buckets it reaches; ``columns`` is how a key reads in a
table; ``issue`` issues keys and hands their secret over (the tool's file, the ``.env`` lines);
``listing`` lists and shows keys; ``changes`` rotates, updates and revokes them. This module
lists the commands, in the order the help shows them, with the API operations each one reaches.
"""

from __future__ import annotations

import typer

from loopback.buckets.cli import PANEL
from loopback.client.command import api_group
from loopback.client.operations import BUCKET, CREDENTIAL, CREDENTIALS, calls
from loopback.credentials.cli.changes import revoke_credential, rotate_credential, update_credential
from loopback.credentials.cli.issue import issue_credential
from loopback.credentials.cli.listing import list_credentials, show_credential

credentials = api_group(
    "A project's S3 access keys: issue (the secret shown once), list, show, rotate, update, revoke.",
    {
        # one bucket goes through the bucket's own route, several through the project's
        "issue": calls(issue_credential, f"POST {CREDENTIALS}", f"POST {BUCKET}/credentials"),
        "list": calls(list_credentials, f"GET {CREDENTIALS}", f"GET {BUCKET}/credentials"),
        "show": calls(show_credential, f"GET {CREDENTIAL}"),
        "rotate": calls(rotate_credential, f"POST {CREDENTIAL}/rotate"),
        "update": calls(update_credential, f"PATCH {CREDENTIAL}"),
        "revoke": calls(
            revoke_credential, f"DELETE {CREDENTIAL}", f"DELETE {BUCKET}/credentials/{{credential_id}}"
        ),
    },
)


def register(app: typer.Typer) -> None:
    """Add ``loopback credentials`` to the ``loopback`` command."""
    app.add_typer(credentials, name="credentials", rich_help_panel=PANEL)
