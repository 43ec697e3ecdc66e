"""The S3 side of IONOS: buckets and their policies, made with the operator's IONOS S3 key.

It is the ``s3`` family's bucket work, composed, plus what IONOS adds: its bucket limit and global
names as permanent errors that say so, and granting a principal a bucket through its policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from loopback.providers.base import Placement, ProviderError
from loopback.providers.ionos.policies import policy_document
from loopback.providers.ionos.regions import Ownership
from loopback.providers.s3 import S3Provider

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CreateBucketConfigurationTypeDef

FAMILY = "ionos"
MAX_BUCKETS_PER_USER = 500  # IONOS Object Storage limits: up to 500 buckets per user


class IonosS3(S3Provider):
    """The ``s3`` family's bucket work with the operator's IONOS key, plus what IONOS adds to it."""

    family = FAMILY

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        s3 = self._s3(region)
        # IONOS's region codes ("de") are not in boto3's list of AWS regions, hence the cast.
        configuration = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": region})
        try:
            self._call(
                "create bucket",
                lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=configuration),
                tolerate=frozenset({"BucketAlreadyOwnedByYou"}),
            )
        except ProviderError as error:
            if error.code == "TooManyBuckets":
                raise ProviderError(
                    f"create bucket: IONOS allows at most {MAX_BUCKETS_PER_USER} buckets per user, and the "
                    f"IONOS user whose key provider {self.name} creates buckets with holds that many "
                    f"({error.message})",
                    transient=False,
                    code="TooManyBuckets",
                ) from error
            if error.code == "BucketAlreadyExists":
                raise ProviderError(
                    f"create bucket: the name {bucket!r} is taken; bucket names are unique across all "
                    f"of IONOS ({error.message})",
                    transient=False,
                    code="BucketAlreadyExists",
                ) from error
            raise

    def grant(
        self,
        bucket: str,
        region: str,
        ownership: Ownership,
        principal: Mapping[str, list[str]],
        writable: bool = True,
    ) -> None:
        """Merge the principal's statement into the bucket's policy; the other statements stay.
        Not ``writable`` (the bucket over its quota): the statement grants no ``s3:PutObject``."""
        existing = self.bucket_policy(bucket, region)
        document = policy_document(existing, bucket, ownership, principal, writable)
        self.put_bucket_policy(bucket, region, document)
