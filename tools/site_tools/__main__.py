"""`python -m site_tools publish --stack NAME`: publish the built site to a deployed stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .publish import PublishError, publish


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish", help="upload static_site/dist to the stack's bucket and invalidate CloudFront")
    pub.add_argument("--stack", required=True, help="the CloudFormation stack name given to sam deploy")
    pub.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    pub.add_argument("--dist", type=Path, default=Path("static_site/dist"), help="the built site (static_site/dist)")
    pub.add_argument("--keep-stale", action="store_true", help="do not delete bucket objects missing from dist")
    args = parser.parse_args(argv)

    import boto3  # only this command needs AWS

    session = boto3.session.Session(region_name=args.region)
    try:
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
    print(f"uploaded {len(report.uploaded)} files to s3://{report.bucket}, deleted {len(report.deleted)} stale ones")
    print(f"invalidation {report.invalidation_id} on {report.distribution_id}; the site: {report.site_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
