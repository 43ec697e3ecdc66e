"""``loopback buckets`` and the install link (issue 13) against the API over real HTTP: create and
adopt take ``--install PART=VALUE``, show and list carry it (``--output json`` too), list filters by
it, and delete ``--install`` deletes or releases every live bucket of an install by its own policy."""

from __future__ import annotations

from typing import Any

from loopback.buckets.cli.install import PARTS
from loopback.buckets.models import INSTALL_LENGTHS
from loopback.client.errors import ExitCode
from tests.buckets.test_cli import Cli
from tests.conftest import unique_bucket_name

PLACE = ("--provider", "local", "--region", "local-1")
SHOP = ("--install", "release=shop-db", "--install", "namespace=shop", "--install", "cluster=prod-eu")


def create(cli: Cli, *args: str, prefix: str = "cli-inst") -> dict[str, Any]:
    bucket: dict[str, Any] = cli.json("buckets", "create", unique_bucket_name(prefix), *PLACE, *args)
    return bucket


def test_the_cli_knows_the_apis_parts() -> None:
    assert PARTS == tuple(INSTALL_LENGTHS)


def test_create_and_adopt_take_the_link_and_show_and_list_carry_it(cli: Cli, operator_s3: Any) -> None:
    linked = create(cli, *SHOP, "--wait")
    assert linked["install"] == {
        "catalog_item": None,
        "release": "shop-db",
        "cluster": "prod-eu",
        "namespace": "shop",
        "claim": None,
    }
    plain = create(cli)
    assert plain["install"] is None
    shown = cli.ok("buckets", "show", linked["name"]).stdout
    assert "release=shop-db cluster=prod-eu namespace=shop" in shown
    assert cli.json("buckets", "show", linked["name"])["install"] == linked["install"]
    table = cli.ok("buckets", "list").stdout
    assert "install" in table  # the column's heading
    assert "release=shop-db" in table

    name = unique_bucket_name("cli-adopt")
    operator_s3.create_bucket(Bucket=name)
    adopted = cli.json("buckets", "adopt", name, *PLACE, "--install", "claim=found")
    assert adopted["install"]["claim"] == "found"

    by_release = cli.json("buckets", "list", "--install", "release=shop-db")["buckets"]
    assert [b["id"] for b in by_release] == [linked["id"]]
    by_claim = cli.json("buckets", "list", "--install", "claim=found")["buckets"]
    assert [b["id"] for b in by_claim] == [adopted["id"]]
    both = cli.json("buckets", "list", "--install", "cluster=prod-eu", "--install", "namespace=elsewhere")
    assert both["buckets"] == []
    assert "No buckets in demo/default." in cli.ok("buckets", "list", "--install", "release=none").stderr


def test_a_bad_install_option_is_refused_before_or_by_the_api(cli: Cli) -> None:
    unknown = cli("buckets", "create", unique_bucket_name(), *PLACE, "--install", "colour=red")
    assert unknown.exit_code == ExitCode.USAGE
    assert "PART one of catalog_item, release, cluster, namespace, claim" in unknown.stderr
    twice = cli("buckets", "list", "--install", "release=a", "--install", "release=b")
    assert twice.exit_code == ExitCode.USAGE
    assert "release is given twice" in twice.stderr
    too_long = cli("buckets", "create", unique_bucket_name(), *PLACE, "--install", "namespace=" + "n" * 64)
    assert too_long.exit_code == ExitCode.REFUSED
    assert "install.namespace" in too_long.stderr
    assert cli.json("buckets", "list")["buckets"] == []
    neither = cli("buckets", "delete", "--yes")
    assert neither.exit_code == ExitCode.USAGE
    assert "name one bucket, or an install with --install" in neither.stderr


def test_delete_by_install_follows_each_buckets_policy(cli: Cli, operator_s3: Any) -> None:
    release = ("--install", "release=gone")
    deleted = create(cli, *release, "--wait")
    kept = create(cli, *release, "--deletion-policy", "retain", "--wait")
    operator_s3.put_object(Bucket=kept["name"], Key="kept", Body=b"stays")  # a release does not mind
    other = create(cli, "--install", "release=stays", "--wait")

    declined = cli("buckets", "delete", *release, stdin="n\n")
    assert declined.exit_code != ExitCode.OK
    assert (
        "Delete 2 buckets of demo/default linked to install release=gone (1 deleted at the provider; "
        "1 released as their deletion policy says, kept at the provider), and revoke their credentials?"
    ) in declined.stderr
    assert {b["status"] for b in cli.json("buckets", "list")["buckets"]} == {"ready"}

    answer = cli.json("buckets", "delete", *release, "--yes", "--wait")
    assert sorted(b["id"] for b in answer["buckets"]) == sorted([deleted["id"], kept["id"]])
    assert {b["status"] for b in answer["buckets"]} == {"deleted"}
    assert answer["refused"] == []
    at_provider = {b["Name"] for b in operator_s3.list_buckets()["Buckets"]}
    assert deleted["name"] not in at_provider
    assert kept["name"] in at_provider  # released: its objects stay
    assert cli.json("buckets", "show", other["name"])["status"] == "ready"

    again = cli.ok("buckets", "delete", *release, "--yes")
    assert "No live bucket of demo/default is linked to install release=gone" in again.stderr


def test_delete_by_install_says_which_it_could_not_delete(cli: Cli, operator_s3: Any) -> None:
    full = create(cli, "--install", "claim=busy", "--wait")
    empty = create(cli, "--install", "claim=busy", "--wait")
    operator_s3.put_object(Bucket=full["name"], Key="held", Body=b"x")

    result = cli("buckets", "delete", "--install", "claim=busy", "--yes")
    assert result.exit_code == ExitCode.REFUSED
    assert (
        f"1 of 2 buckets not deleted: {full['name']}: bucket {full['name']!r} holds 1 object" in result.stderr
    )
    assert "--force deletes every object in the bucket first" in result.stderr
    assert cli.json("buckets", "show", empty["name"])["status"] in {"deleting", "deleted"}
    assert cli.json("buckets", "show", full["name"])["status"] == "ready"
