"""config.js and the CSP the site is published with. Publishing it to a deployed stack (S3, CloudFront,
CloudFormation in moto) and the CLI's one-line AWS errors are tests/functional/test_site_tools.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from site_tools import SiteCognito, SiteConfig, content_security_policy, inject_csp, render_config_js
from site_tools.publish import site_config_from_outputs

LOCAL = SiteConfig("http://127.0.0.1:3000/", "LambdaAuthorizer", None, "http://127.0.0.1:8081")
DEPLOYED = SiteConfig(
    "https://abc123.execute-api.eu-west-1.amazonaws.com", "Open", "cell-4-eu-west-1-1.prod.a.momentohq.com"
)
LOCAL_COGNITO = SiteConfig(
    "http://127.0.0.1:3000",
    "AmazonCognito",
    None,
    "http://127.0.0.1:8081",
    SiteCognito("us-east-1", "us-east-1_abc", "client123", "http://127.0.0.1:5000/"),
)
DEPLOYED_COGNITO = SiteConfig(
    DEPLOYED.api_url, "AmazonCognito", DEPLOYED.momento_endpoint, None, SiteCognito("eu-west-1", "eu-west-1_x", "c")
)


def config_js_payload(text: str) -> Any:
    return json.loads(text.split("window.TVM_CONFIG = ", 1)[1].rstrip().rstrip(";"))


def test_config_js_sets_exactly_the_site_settings() -> None:
    text = render_config_js(LOCAL)
    payload = json.loads(text.split("window.TVM_CONFIG = ", 1)[1].rstrip().rstrip(";"))
    assert payload == {
        "apiUrl": "http://127.0.0.1:3000",
        "authMethod": "LambdaAuthorizer",
        "momentoEndpointOverride": "http://127.0.0.1:8081",
    }


def test_config_js_in_cognito_mode_has_the_pool_and_only_locally_an_endpoint() -> None:
    assert config_js_payload(render_config_js(LOCAL_COGNITO))["cognito"] == {
        "region": "us-east-1",
        "userPoolId": "us-east-1_abc",
        "clientId": "client123",
        "endpoint": "http://127.0.0.1:5000",
    }
    assert config_js_payload(render_config_js(DEPLOYED_COGNITO))["cognito"] == {
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_x",
        "clientId": "c",
    }
    assert "cognito" not in config_js_payload(render_config_js(LOCAL))


def test_csp_in_cognito_mode_allows_the_cognito_api_and_nothing_more() -> None:
    local = content_security_policy(LOCAL_COGNITO)
    assert "connect-src http://127.0.0.1:3000 http://127.0.0.1:8081 http://127.0.0.1:5000;" in local
    deployed = content_security_policy(DEPLOYED_COGNITO)
    connect = deployed.split("connect-src ", 1)[1].split(";", 1)[0].split()
    assert connect == [
        "https://abc123.execute-api.eu-west-1.amazonaws.com",
        "https://*.cell-4-eu-west-1-1.prod.a.momentohq.com",
        "https://cognito-idp.eu-west-1.amazonaws.com",
    ]
    assert "cognito" not in content_security_policy(DEPLOYED)


def test_the_publisher_reads_the_pool_from_the_cognito_outputs() -> None:
    outputs = {
        "ApiUrl": DEPLOYED.api_url,
        "AuthenticationMethod": "AmazonCognito",
        "MomentoEndpoint": "cell-4-eu-west-1-1.prod.a.momentohq.com",
        "Region": "eu-west-1",
        "UserPoolId": "eu-west-1_x",
        "UserPoolClientId": "c",
    }
    assert site_config_from_outputs(outputs) == DEPLOYED_COGNITO
    assert site_config_from_outputs({**outputs, "AuthenticationMethod": "Open"}).cognito is None


def test_config_js_cannot_break_out_of_its_script() -> None:
    text = render_config_js(SiteConfig("https://x.example/</script><script>alert(1)//", "Open"))
    assert "</script>" not in text


def test_csp_allows_only_the_site_the_api_and_momento() -> None:
    local = content_security_policy(LOCAL)
    assert "connect-src http://127.0.0.1:3000 http://127.0.0.1:8081;" in local
    deployed = content_security_policy(DEPLOYED)
    assert "connect-src https://abc123.execute-api.eu-west-1.amazonaws.com https://*.cell-4-eu-west-1-1" in deployed
    for policy in (local, deployed):
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy
        assert "*;" not in policy


def test_inject_csp_replaces_an_earlier_policy() -> None:
    page = '<!doctype html><html><head><meta charset="utf-8"><title>x</title></head><body></body></html>'
    once = inject_csp(page, LOCAL)
    twice = inject_csp(once, DEPLOYED)
    assert twice.count("Content-Security-Policy") == 1
    assert "execute-api" in twice
    with pytest.raises(ValueError, match="no <head>"):
        inject_csp("<html></html>", LOCAL)


def test_config_js_asks_for_the_token_lifetime_only_when_set() -> None:
    assert (
        config_js_payload(render_config_js(SiteConfig(LOCAL.api_url, "Open", token_ttl_seconds=30)))["tokenTtlSeconds"]
        == 30
    )
    assert "tokenTtlSeconds" not in config_js_payload(render_config_js(LOCAL))
