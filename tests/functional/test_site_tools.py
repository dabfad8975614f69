"""Publishing the built site to a deployed stack (S3, CloudFront, CloudFormation in moto), and `python -m site_tools
publish`'s one-line errors when AWS settings are missing or wrong. config.js and the CSP themselves are
tests/unit/test_site_tools.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from site_tools.__main__ import main as cli
from site_tools.publish import PublishError, publish
from tests.aws_moto import Moto
from tests.unit.test_site_tools import DEPLOYED, config_js_payload


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A deployed stack's bucket and distribution in moto (the suite's server, emptied: the endpoint of every boto3
    client here and the CLI's)."""
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.url,
    }.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3")
    cloudfront = boto3.client("cloudfront")
    cloudformation = boto3.client("cloudformation")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "test",
            "Comment": "site",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "bucket.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )["Distribution"]
    template = {
        "Parameters": {"DistributionId": {"Type": "String"}},
        "Resources": {"SiteBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "ApiUrl": {"Value": DEPLOYED.api_url},
            "AuthenticationMethod": {"Value": "Open"},
            "MomentoEndpoint": {"Value": DEPLOYED.momento_endpoint},
            "SiteBucketName": {"Value": {"Ref": "SiteBucket"}},
            "SiteDistributionId": {"Value": {"Ref": "DistributionId"}},
            "SiteUrl": {"Value": "https://d111.cloudfront.net"},
        },
    }
    cloudformation.create_stack(
        StackName="tvm",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "DistributionId", "ParameterValue": distribution["Id"]}],
    )
    outputs = cloudformation.describe_stacks(StackName="tvm")["Stacks"][0]["Outputs"]
    bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SiteBucketName")
    return {
        "s3": s3,
        "cloudfront": cloudfront,
        "cloudformation": cloudformation,
        "bucket": bucket,
        "distribution": distribution["Id"],
    }


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>')
    (tmp_path / "config.js").write_text("window.TVM_CONFIG = {apiUrl: 'http://127.0.0.1:3000'};")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "assets" / "index-abc123.css").write_text("body{}")
    return tmp_path


def test_publish_uploads_writes_config_and_invalidates(aws: dict[str, Any], dist: Path) -> None:
    s3 = aws["s3"]
    s3.put_object(Bucket=aws["bucket"], Key="assets/old-000.js", Body=b"stale")
    report = publish("tvm", dist, cloudformation=aws["cloudformation"], s3=s3, cloudfront=aws["cloudfront"])
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=aws["bucket"])["Contents"])
    assert keys == ["assets/index-abc123.css", "assets/index-abc123.js", "config.js", "index.html"]
    assert report.deleted == ["assets/old-000.js"]

    config = s3.get_object(Bucket=aws["bucket"], Key="config.js")
    assert config["CacheControl"] == "no-cache"
    assert config["ContentType"].startswith("text/javascript") or config["ContentType"].startswith(
        "application/javascript"
    )
    assert json.loads(config["Body"].read().decode().split("= ", 1)[1].rstrip().rstrip(";")) == {
        "apiUrl": DEPLOYED.api_url,
        "authMethod": "Open",
    }
    index = s3.get_object(Bucket=aws["bucket"], Key="index.html")
    assert "Content-Security-Policy" in index["Body"].read().decode()
    assert index["ContentType"] == "text/html; charset=utf-8"
    asset = s3.head_object(Bucket=aws["bucket"], Key="assets/index-abc123.js")
    assert asset["CacheControl"] == "public, max-age=31536000, immutable"

    invalidations = aws["cloudfront"].list_invalidations(DistributionId=aws["distribution"])["InvalidationList"]
    assert [i["Id"] for i in invalidations.get("Items", [])] == [report.invalidation_id]


def test_publish_refuses_a_missing_build_or_a_foreign_stack(aws: dict[str, Any], tmp_path: Path, dist: Path) -> None:
    clients = {k: aws[k] for k in ("cloudformation", "s3", "cloudfront")}
    with pytest.raises(PublishError, match="build the site first"):
        publish("tvm", tmp_path / "missing", **clients)
    with pytest.raises(PublishError, match="cannot read stack"):
        publish("no-such-stack", dist, **clients)
    aws["cloudformation"].create_stack(
        StackName="other", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )
    with pytest.raises(PublishError, match="no output"):
        publish("other", dist, **clients)


def test_publish_in_cognito_mode_writes_the_pool_and_refuses_a_stack_without_it(
    aws: dict[str, Any], dist: Path
) -> None:
    clients = {k: aws[k] for k in ("cloudformation", "s3", "cloudfront")}
    outputs = {
        "ApiUrl": {"Value": DEPLOYED.api_url},
        "AuthenticationMethod": {"Value": "AmazonCognito"},
        "MomentoEndpoint": {"Value": DEPLOYED.momento_endpoint},
        "Region": {"Value": "us-east-1"},
        "SiteBucketName": {"Value": aws["bucket"]},
        "SiteDistributionId": {"Value": aws["distribution"]},
        "UserPoolId": {"Value": "us-east-1_pool"},
        "UserPoolClientId": {"Value": "siteclient"},
    }
    template = {"Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    aws["cloudformation"].create_stack(StackName="cognito", TemplateBody=json.dumps(template))
    publish("cognito", dist, **clients)
    config = aws["s3"].get_object(Bucket=aws["bucket"], Key="config.js")["Body"].read().decode()
    assert config_js_payload(config)["cognito"] == {
        "region": "us-east-1",
        "userPoolId": "us-east-1_pool",
        "clientId": "siteclient",
    }
    index = aws["s3"].get_object(Bucket=aws["bucket"], Key="index.html")["Body"].read().decode()
    assert "https://cognito-idp.us-east-1.amazonaws.com" in index

    without = {key: value for key, value in outputs.items() if key != "UserPoolClientId"}
    template = {"Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}}, "Outputs": without}
    aws["cloudformation"].create_stack(StackName="half", TemplateBody=json.dumps(template))
    with pytest.raises(PublishError, match=r"no output.*UserPoolClientId"):
        publish("half", dist, **clients)


def test_the_cli_reports_errors_without_a_traceback(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["publish", "--stack", "tvm", "--dist", str(tmp_path / "nothing")]) == 2
    assert "build the site first" in capsys.readouterr().err


# ---------------------------------------------------------------------- AWS settings missing or wrong: one line
ROOT = Path(__file__).resolve().parents[2]


def no_aws_env(tmp_path: Path) -> dict[str, str]:
    """The environment minus every AWS setting, with no config or credentials file: no region, no credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return env | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_make_publish_without_a_region_says_how_to_give_one(tmp_path: Path) -> None:
    """It used to be a 16-frame botocore traceback ending in NoRegionError."""
    done = subprocess.run(
        [sys.executable, "-m", "site_tools", "publish", "--stack", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=no_aws_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "publish: no AWS region: give the stack's region with `make publish STACK=<name> REGION=<region>` "
        "(`python -m site_tools publish --region <region>`), or set AWS_REGION, or a region in your AWS profile"
    ]


def test_publish_without_credentials_or_an_endpoint_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in no_aws_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    assert cli(["publish", "--stack", "x", "--region", "eu-west-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("publish: no AWS credentials: configure a profile") and err.count("\n") == 1, err

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cli(["publish", "--stack", "x", "--region", "eu-west-1"]) == 1
    assert capsys.readouterr().err.startswith("publish: cannot reach AWS at http://127.0.0.1:9")

    monkeypatch.setenv("AWS_PROFILE", "nope")
    assert cli(["publish", "--stack", "x"]) == 2
    assert "could not be found: check AWS_PROFILE" in capsys.readouterr().err


def test_aws_region_alone_names_the_stacks_region(
    aws: dict[str, Any], dist: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # boto3 reads only this one; AWS_REGION is what Lambda and CI set
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert cli(["publish", "--stack", "tvm", "--dist", str(dist)]) == 0, capsys.readouterr().err
    assert "uploaded 4 files" in capsys.readouterr().out
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert cli(["publish", "--stack", "tvm", "--dist", str(dist)]) == 2
    assert "cannot read stack 'tvm' in eu-west-1: " in capsys.readouterr().err


def test_an_aws_refusal_while_uploading_is_one_line(
    aws: dict[str, Any], dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = aws["s3"]
    for item in s3.list_objects_v2(Bucket=aws["bucket"]).get("Contents", []):
        s3.delete_object(Bucket=aws["bucket"], Key=item["Key"])
    s3.delete_bucket(Bucket=aws["bucket"])  # deleted by hand after the deploy
    assert cli(["publish", "--stack", "tvm", "--dist", str(dist)]) == 1
    err = capsys.readouterr().err
    assert err == "publish: AWS refused PutObject: The specified bucket does not exist (NoSuchBucket)\n", err
