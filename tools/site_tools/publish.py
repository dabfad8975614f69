"""Publish the built site after `sam deploy`: read the stack's outputs, write `config.js` (and the CSP into
`index.html`), sync `static_site/dist/` to the site bucket, and invalidate CloudFront.

    python -m site_tools publish --stack my-tvm [--region eu-west-1] [--dist static_site/dist]
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import SiteCognito, SiteConfig, inject_csp, render_config_js

__all__ = ["PublishError", "PublishReport", "publish", "site_config_from_outputs", "stack_outputs"]

REQUIRED_OUTPUTS = ("ApiUrl", "AuthenticationMethod", "SiteBucketName", "SiteDistributionId")
COGNITO_OUTPUTS = ("UserPoolId", "UserPoolClientId", "Region")  # AmazonCognito mode: the site signs in there
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite's hashed assets never change under the same name
SHORT = "public, max-age=300"


class PublishError(RuntimeError):
    """The stack or the build is not what publishing needs; the message says what to do."""


@dataclass
class PublishReport:
    bucket: str
    distribution_id: str
    site_url: str | None
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    invalidation_id: str | None = None


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:  # the stack is missing (or not readable); other botocore errors: the caller's
        details = error.response.get("Error", {})
        region = getattr(getattr(cloudformation, "meta", None), "region_name", None)
        where = f" in {region}" if region else ""
        raise PublishError(
            f"cannot read stack '{stack_name}'{where}: {details.get('Message') or details.get('Code')} "
            "(is it deployed there? REGION=/--region names the stack's region)"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if not missing and outputs["AuthenticationMethod"] == "AmazonCognito":
        missing = [key for key in COGNITO_OUTPUTS if not outputs.get(key)]
    if missing:
        raise PublishError(f"stack '{stack_name}' has no output(s) {', '.join(missing)}: is it this project's stack?")
    return outputs


def site_config_from_outputs(outputs: Mapping[str, str]) -> SiteConfig:
    """config.js's settings. AmazonCognito mode: the pool and client from the outputs, AWS's own Cognito endpoint."""
    cognito = None
    if outputs["AuthenticationMethod"] == "AmazonCognito":
        cognito = SiteCognito(
            region=outputs["Region"], user_pool_id=outputs["UserPoolId"], client_id=outputs["UserPoolClientId"]
        )
    return SiteConfig(
        api_url=outputs["ApiUrl"],
        auth_method=outputs["AuthenticationMethod"],
        momento_endpoint=outputs.get("MomentoEndpoint"),
        cognito=cognito,
    )


def _cache_control(key: str) -> str:
    if key in ("index.html", "config.js"):
        return NO_CACHE
    if key.startswith("assets/"):
        return IMMUTABLE
    return SHORT


def _files(dist: Path, config: SiteConfig) -> dict[str, bytes]:
    if not (dist / "index.html").is_file():
        raise PublishError(
            f"{dist} has no index.html: build the site first (cd static_site && npm ci && npm run build)"
        )
    files = {p.relative_to(dist).as_posix(): p.read_bytes() for p in sorted(dist.rglob("*")) if p.is_file()}
    files["index.html"] = inject_csp(files["index.html"].decode("utf-8"), config).encode("utf-8")
    files["config.js"] = render_config_js(config).encode("utf-8")
    return files


def publish(
    stack_name: str, dist: Path, *, cloudformation: Any, s3: Any, cloudfront: Any, delete: bool = True
) -> PublishReport:
    outputs = stack_outputs(cloudformation, stack_name)
    config = site_config_from_outputs(outputs)
    files = _files(dist, config)
    report = PublishReport(outputs["SiteBucketName"], outputs["SiteDistributionId"], outputs.get("SiteUrl"))
    for key, body in files.items():
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
            content_type += "; charset=utf-8"
        s3.put_object(
            Bucket=report.bucket, Key=key, Body=body, ContentType=content_type, CacheControl=_cache_control(key)
        )
        report.uploaded.append(key)
    if delete:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=report.bucket):
            for item in page.get("Contents", []):
                if item["Key"] not in files:
                    s3.delete_object(Bucket=report.bucket, Key=item["Key"])
                    report.deleted.append(item["Key"])
    invalidation = cloudfront.create_invalidation(
        DistributionId=report.distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(uuid.uuid4())},
    )
    report.invalidation_id = invalidation["Invalidation"]["Id"]
    return report
