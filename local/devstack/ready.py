"""The ready report: one block for people, or one JSON line for scripts (`--ready-json`). The same facts in both."""

from __future__ import annotations

import json

from .modes import MODES
from .ports import suggest_port
from .stack import StackInfo

__all__ = ["ready_block", "ready_json"]

_RULE = "-" * 78
_SITE_NOTES = {
    "placeholder": "   (a placeholder page: the chat site is not built; make install-site builds it)",
    "site sources": "   (static_site/ is not built: `cd static_site && npm ci && npm run build`)",
}


def ready_json(info: StackInfo) -> str:
    return json.dumps({"event": "ready", **info.to_json()}, separators=(",", ":"))


def ready_block(info: StackInfo) -> str:
    lines = [
        _RULE,
        f" Momento token vending machine, running offline (ready in {info.startup_seconds:.1f} s)",
        "",
        f"   Site   {info.site_url}{_SITE_NOTES.get(info.site_content, '')}",
        f"   API    {info.api_url}   {', '.join(info.routes)}",
    ]
    lines += MODES[info.auth_method].ready_lines(info)  # how to sign in, and a request to try
    lines += ["", *_settings(info)]
    lines += [
        "",
        f"   Momento emulator   gRPC {info.momento_endpoint}   grpc-web {info.momento_web_url}   "
        f"cache {info.cache_name}",
        f"   moto (AWS)         {info.moto_url}   Secrets Manager, DynamoDB"
        f"{', Cognito user pools' if info.cognito else ''}",
        "",
        "   Ports (environment variables; 0 picks a free port):",
    ]
    width = max(len(port.variable) for port in info.ports) + 2
    what_width = max(len(port.what) for port in info.ports) + 2
    for port in info.ports:
        if port.requested == 0:
            origin = f"a free port ({port.variable}=0)"
        elif port.source == "environment":
            origin = f"set by {port.variable}"
        elif port.source == "default":
            origin = "default"
        else:
            origin = "as configured"
        lines.append(f"     {port.variable:<{width}}{port.port:<7}{port.what:<{what_width}}{origin}")
    lines += [
        f"   To change one: e.g. `{_port_example(info)} make dev`.",
        "",
        " Press Ctrl-C to stop.",
        _RULE,
    ]
    return "\n".join(lines)


def _port_example(info: StackInfo) -> str:
    """`API_PORT=<a port>`: one that is free and none of this stack's (an example must not clash with SITE_PORT)."""
    api = next(port for port in info.ports if port.variable == "API_PORT")
    avoid = {port.port for port in info.ports} | {port.requested for port in info.ports}
    return f"API_PORT={suggest_port(api.port, avoid)}"


def _settings(info: StackInfo) -> list[str]:
    """Token lifetime, CORS origins, and which files apply while running: what TOKEN_TTL_SECONDS, ALLOWED_ORIGINS
    and an edit of the users or the policy do."""
    if info.token_ttl_seconds is not None:
        tokens = f"{info.token_ttl_seconds} s (TOKEN_TTL_SECONDS): the site renews each one before it expires"
    else:
        tokens = "each tier's lifetime (policy.yaml); `TOKEN_TTL_SECONDS=60 make dev` to watch renewals"
    extra = set(info.allowed_origins)
    origins = ", ".join(f"{o} (ALLOWED_ORIGINS)" if o in extra else o for o in info.api_cors_origins)
    lines = [
        f"   Tokens   {tokens}",
        f"   CORS     API: {origins}",
        "            Momento emulator (grpc-web): any origin, as Momento's own endpoint",
    ]
    if not extra:
        lines.append("            more origins for the API: e.g. `ALLOWED_ORIGINS=http://localhost:5173 make dev`")
    if info.watched_files:
        verb = "applies" if len(info.watched_files) == 1 else "apply"
        lines.append(f"   Edits    {' and '.join(info.watched_files)} {verb} while this runs (no restart)")
    return lines
