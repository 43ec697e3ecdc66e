"""Ready-to-paste connection snippets for a bucket: boto3, aws-cli, rclone and a ``.env`` file.

They carry the real secret only on the one page view that shows it; otherwise a placeholder
says where the secret comes from, since the control plane cannot show it again.
"""

from __future__ import annotations

from dataclasses import dataclass

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
access_key_id = {key}
secret_access_key = {secret}
force_path_style = true
""",
        ),
        Snippet(
            "env",
            ".env",
            "For an application that reads its settings from the environment.",
            f"""S3_ENDPOINT_URL={endpoint}
S3_BUCKET={bucket}
AWS_DEFAULT_REGION={region}
AWS_ACCESS_KEY_ID={key}
AWS_SECRET_ACCESS_KEY={secret}
""",
        ),
    ]
