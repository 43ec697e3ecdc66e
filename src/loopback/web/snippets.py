"""Ready-to-paste connection snippets for a bucket (boto3, aws-cli, rclone, ``.env``), and the
handover files of a newly issued key (``credentials.formats``: env, aws-cli, rclone, s3cmd, Kubernetes).

They carry the real secret only on the one page view that shows it; otherwise a placeholder
says where the secret comes from, since the control plane cannot show it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopback.credentials.formats import Handover, profile_name, render, secret_name

SECRET_PLACEHOLDER = "<the secret shown when the key was issued>"
KEY_PLACEHOLDER = "<issue a key below>"
ENDPOINT_PLACEHOLDER = "<the endpoint, once the bucket is ready>"


@dataclass(frozen=True)
class Snippet:
    slug: str
    title: str
    hint: str
    text: str


def _remote_name(bucket: str) -> str:
    return "loopback-" + bucket.replace(".", "-")


def connection_snippets(
    bucket: str, endpoint: str | None, region: str, access_key_id: str | None, secret: str | None
) -> list[Snippet]:
    endpoint = endpoint or ENDPOINT_PLACEHOLDER
    key = access_key_id or KEY_PLACEHOLDER
    secret = secret or SECRET_PLACEHOLDER
    remote = _remote_name(bucket)
    return [
        Snippet(
            "boto3",
            "Python (boto3)",
            "Upload a file and list the bucket.",
            f"""import boto3

s3 = boto3.client(
    "s3",
    endpoint_url="{endpoint}",
    region_name="{region}",
    aws_access_key_id="{key}",
    aws_secret_access_key="{secret}",
)
s3.upload_file("hello.txt", "{bucket}", "hello.txt")
for item in s3.list_objects_v2(Bucket="{bucket}").get("Contents", []):
    print(item["Key"], item["Size"])
""",
        ),
        Snippet(
            "aws-cli",
            "aws-cli",
            "In a shell; the key is read from the environment.",
            f"""export AWS_ACCESS_KEY_ID="{key}"
export AWS_SECRET_ACCESS_KEY="{secret}"
export AWS_DEFAULT_REGION="{region}"
aws --endpoint-url "{endpoint}" s3 cp hello.txt "s3://{bucket}/"
aws --endpoint-url "{endpoint}" s3 ls "s3://{bucket}/"
""",
        ),
        Snippet(
            "rclone",
            "rclone",
            f"Add to ~/.config/rclone/rclone.conf, then: rclone ls {remote}:{bucket}",
            f"""[{remote}]
type = s3
provider = Other
endpoint = {endpoint}
region = {region}
env_auth = false
access_key_id = {key}
secret_access_key = {secret}
force_path_style = true
acl = private
no_check_bucket = true
""",
        ),
        Snippet(
            "env",
            ".env",
            "For an application that reads its settings from the environment.",
            # The names the SDKs read: AWS_ENDPOINT_URL (boto3 >= 1.28, aws-cli >= 2.13), and both
            # region variables, since SDKs differ in which one they read.
            f"""AWS_ACCESS_KEY_ID={key}
AWS_SECRET_ACCESS_KEY={secret}
AWS_ENDPOINT_URL={endpoint}
AWS_DEFAULT_REGION={region}
AWS_REGION={region}
S3_BUCKET={bucket}
""",
        ),
    ]


def handover_snippets(handover: Handover) -> list[Snippet]:
    """Every handover format of an issued key, each as the file its tool reads, with where it goes."""
    profile = profile_name(handover)
    first = handover.buckets[0]
    secrets = "One Secret per bucket" if len(handover.buckets) > 1 else "A Secret"
    shown = [
        (
            "env",
            ".env",
            "For a shell (set -a; . ./loopback.env; set +a) or an app that reads a .env file; "
            "boto3 1.28+ and aws-cli 2.13+ read AWS_ENDPOINT_URL.",
        ),
        (
            "aws-credentials",
            "aws-cli profile: ~/.aws/credentials",
            f"Append to ~/.aws/credentials, and the next block to ~/.aws/config; then: "
            f"aws --profile {profile} s3 ls s3://{first}/",
        ),
        (
            "aws-config",
            "aws-cli profile: ~/.aws/config",
            f"Append to ~/.aws/config, beside the credentials above (profile {profile}).",
        ),
        (
            "rclone",
            "rclone",
            f"Append to rclone.conf (rclone config file prints where); then: rclone ls {profile}:{first}",
        ),
        ("s3cmd", "s3cmd", f"Save as ~/.s3cfg (or pass -c FILE); then: s3cmd ls s3://{first}"),
        (
            "kubernetes",
            "Kubernetes Secret",
            f"{secrets} with COSI's keys, named like {secret_name(handover, first)}; "
            "save it and run: kubectl apply -f FILE",
        ),
    ]
    return [Snippet(f"format-{fmt}", title, hint, render(fmt, handover)) for fmt, title, hint in shown]
