"""The ready report: one block for people, or one JSON line for scripts (`--ready-json`). The same facts in both."""

from __future__ import annotations

import json
import shlex

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
    if info.auth_method == "LambdaAuthorizer":
        lines += ["   Auth   LambdaAuthorizer: HTTP Basic with a demo login", "", *_logins(info)]
        if info.users:
            first = info.users[0]
            credentials = shlex.quote(f"{first.username}:{first.password}")
            lines += ["", f"   Try    curl -u {credentials} {info.api_url}/token"]
    elif info.auth_method == "AmazonCognito" and info.cognito is not None:
        cognito = info.cognito
        lines += [
            "   Auth   AmazonCognito: a Cognito ID token (Authorization: Bearer), checked like API Gateway's JWT",
            "          authorizer against moto's user pool. LOCAL ONLY: moto's signing key is public, and the",
            "          local pool's password policy is relaxed (8 characters) for the demo passwords.",
            "",
            f"   Cognito   pool {cognito.user_pool_id}",
            f"             client {cognito.client_id}   region {cognito.region}   endpoint {cognito.endpoint} (moto)",
            "",
            *_logins(info),
        ]
        if info.users:
            prefix = "" if info.moto_url.endswith(":5000") else f"MOTO_PORT={info.moto_url.rsplit(':', 1)[1]} "
            lines += [
                "",
                f"   Try    TOKEN=$({prefix}.venv/bin/python -m devstack token {shlex.quote(info.users[0].username)})",
                f'          curl -H "Authorization: Bearer $TOKEN" {info.api_url}/token',
            ]
    else:
        tier = f" (tier {info.guest_tier})" if info.guest_tier else ""
        lines += [
            f"   Auth   Open: no login; anyone, as a guest{tier}",
            "",
            f"   Try    curl '{info.api_url}/token?name=Ann&topics=chat-lobby'",
        ]
    lines += ["", *_settings(info)]
    lines += [
        "",
        f"   Momento emulator   gRPC {info.momento_endpoint}   grpc-web {info.momento_web_url}   "
        f"cache {info.cache_name}",
        f"   moto (AWS)         {info.moto_url}   Secrets Manager{', Cognito user pools' if info.cognito else ''}",
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


def _logins(info: StackInfo) -> list[str]:
    """The demo users' table: user, password, tier (from the policy's group rules)."""
    lines = ["   Demo logins (local/demo_users.json, local only):"]
    width = max([len("user"), *(len(u.username) for u in info.users)]) + 3
    pwidth = max([len("password"), *(len(u.password) for u in info.users)]) + 3
    lines.append(f"     {'user':<{width}}{'password':<{pwidth}}tier")
    for user in info.users:
        lines.append(f"     {user.username:<{width}}{user.password:<{pwidth}}{user.tier or '(refused)'}")
    return lines


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
