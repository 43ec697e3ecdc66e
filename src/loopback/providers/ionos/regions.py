"""IONOS Object Storage's regions: where each is, which bucket type it holds, its S3 host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loopback.providers.base import RegionSpec

Ownership = Literal["user", "contract"]


@dataclass(frozen=True)
class IonosRegion:
    """An IONOS Object Storage region: where it is, which bucket type it holds, its S3 host."""

    code: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    ownership: Ownership
    host: str

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}"

    @property
    def display_name(self) -> str:
        return f"{self.city} ({self.ownership}-owned buckets)"

    def spec(self, endpoint: str | None = None) -> RegionSpec:
        return RegionSpec(self.code, self.display_name, endpoint or self.endpoint)


# IONOS Object Storage endpoints (docs.ionos.com, Object Storage, Endpoints). The user-owned region
# "de" signs as "de" but is served from s3.eu-central-1; eu-central-4 is listed by IONOS's own
# Terraform provider (ionos-cloud/terraform-provider-ionoscloud), not yet on the endpoints page.
IONOS_REGIONS: tuple[IonosRegion, ...] = (
    IonosRegion("de", "Frankfurt", "DE", "user", "s3.eu-central-1.ionoscloud.com"),
    IonosRegion("eu-central-2", "Berlin", "DE", "user", "s3.eu-central-2.ionoscloud.com"),
    IonosRegion("eu-south-2", "Logroño", "ES", "user", "s3.eu-south-2.ionoscloud.com"),
    IonosRegion("eu-central-3", "Berlin", "DE", "contract", "s3.eu-central-3.ionoscloud.com"),
    IonosRegion("eu-central-4", "Frankfurt", "DE", "contract", "s3.eu-central-4.ionoscloud.com"),
    IonosRegion("us-central-1", "Lenexa", "US", "contract", "s3.us-central-1.ionoscloud.com"),
)
REGIONS: tuple[RegionSpec, ...] = tuple(region.spec() for region in IONOS_REGIONS)
COUNTRIES: dict[str, str] = {region.code: region.country for region in IONOS_REGIONS}
OWNERSHIP: dict[str, Ownership] = {region.code: region.ownership for region in IONOS_REGIONS}
