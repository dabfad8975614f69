"""`python -m site_tools publish --stack NAME`: publish the built site to a deployed stack.

Exit status: 0 published; 2 something to fix first (no region, no such stack, the site not built, a profile that
does not exist); 1 AWS or the network failed (no credentials, an endpoint out of reach, a refused call). Every
failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Final

from .publish import PublishError, publish

NO_REGION: Final = (
    "no AWS region: give the stack's region with `make publish STACK=<name> REGION=<region>` "
    "(`python -m site_tools publish --region <region>`), or set AWS_REGION, or a region in your AWS profile"
)
NO_CREDENTIALS: Final = (
    "no AWS credentials: configure a profile (`aws configure`, AWS_PROFILE) or set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY"
)


def aws_failure(error: BaseException) -> tuple[str, int] | None:
    """(one line, exit status) for a botocore error; None for anything else (a bug: its traceback is wanted)."""
    from botocore import exceptions

    if isinstance(error, exceptions.NoRegionError):
        return NO_REGION, 2
    if isinstance(error, exceptions.ProfileNotFound):
        return f"{error}: check AWS_PROFILE", 2
    if isinstance(error, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return NO_CREDENTIALS, 1
    if isinstance(error, exceptions.EndpointConnectionError | exceptions.ConnectTimeoutError):
        endpoint = getattr(error, "kwargs", {}).get("endpoint_url", "?")
        return f"cannot reach AWS at {endpoint}: check the network and the region (or AWS_ENDPOINT_URL)", 1
    if isinstance(error, exceptions.ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "?")
        operation = getattr(error, "operation_name", "") or "a call"
        return f"AWS refused {operation}: {details.get('Message') or code} ({code})", 1
    if isinstance(error, exceptions.BotoCoreError):
        return f"AWS call failed: {error}", 1
    return None


def _session(region: str | None) -> Any:
    """A boto3 session in the stack's region: --region, else AWS_REGION (boto3 reads only AWS_DEFAULT_REGION), else
    the configuration's. Checked here: without one, boto3 fails only at the first client, deep in a traceback."""
    import boto3  # only this command needs AWS

    session = boto3.session.Session(region_name=region or os.environ.get("AWS_REGION", "").strip() or None)
    if not session.region_name:
        raise PublishError(NO_REGION)
    return session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish", help="upload static_site/dist to the stack's bucket and invalidate CloudFront")
    pub.add_argument("--stack", required=True, help="the CloudFormation stack name given to sam deploy")
    pub.add_argument("--region", help="the stack's region (default: AWS_REGION, else your AWS configuration's)")
    pub.add_argument("--dist", type=Path, default=Path("static_site/dist"), help="the built site (static_site/dist)")
    pub.add_argument("--keep-stale", action="store_true", help="do not delete bucket objects missing from dist")
    args = parser.parse_args(argv)

    try:
        session = _session(args.region)
        report = publish(
            args.stack,
            args.dist,
            cloudformation=session.client("cloudformation"),
            s3=session.client("s3"),
            cloudfront=session.client("cloudfront"),
            delete=not args.keep_stale,
        )
    except PublishError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        failure = aws_failure(error)
        if failure is None:
            raise
        print(f"publish: {failure[0]}", file=sys.stderr)
        return failure[1]
    print(f"uploaded {len(report.uploaded)} files to s3://{report.bucket}, deleted {len(report.deleted)} stale ones")
    print(f"invalidation {report.invalidation_id} on {report.distribution_id}; the site: {report.site_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
