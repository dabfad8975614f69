"""Site tooling shared by the local stack and the deploy-time publisher: one place that decides what `config.js`
and the Content-Security-Policy say, so the site runs the same way locally and on CloudFront."""

from .config import SiteCognito, SiteConfig, content_security_policy, inject_csp, render_config_js

__all__ = ["SiteCognito", "SiteConfig", "content_security_policy", "inject_csp", "render_config_js"]
