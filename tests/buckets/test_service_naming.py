"""S3 naming rules, as AWS documents them for general purpose buckets."""

from __future__ import annotations

import pytest

from loopback.buckets.naming import bucket_name_problems


@pytest.mark.parametrize("name", ["abc", "photos-2026", "my.bucket.name", "a" * 63, "0-9"])
def test_valid_names_have_no_problems(name: str) -> None:
    assert bucket_name_problems(name) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("Photos", "lowercase letters"),
        ("under_score", "lowercase letters"),
        ("-leading", "begin and end"),
        ("trailing-", "begin and end"),
        ("two..dots", "two dots"),
        ("dot.-hyphen", "dot next to a hyphen"),
        ("192.168.5.4", "IP address"),
        ("xn--punycode", "prefix 'xn--'"),
        ("sthree-bucket", "prefix 'sthree-'"),
        ("name-s3alias", "suffix '-s3alias'"),
        ("name--ol-s3", "suffix '--ol-s3'"),
        ("name.mrap", "suffix '.mrap'"),
    ],
)
def test_each_rule_is_named(name: str, problem: str) -> None:
    problems = bucket_name_problems(name)
    assert any(problem in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    assert len(bucket_name_problems("-Bad..Name_")) >= 3
