"""The Content-Security-Policy holds on the real pages (issue 13 item 5): opened with the policy
enforced (the other browser tests bypass it, since Playwright's waits evaluate strings), every
page a worker, a leader and an administrator use runs without a single violation, and the maps
and the report form still work: the app's scripts are its own files, and its inline scripts carry
the request's nonce."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

VIOLATIONS = """window.__csp = []; document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));"""

PAGES = {
    "w0101a": ["/report", "/", "/incidents", "/map", "/inbox"],
    "leader01": ["/map", "/incidents?queue=to_verify", "/escalations"],
    "admin": ["/map", "/admin/people", "/zones"],
}


@pytest.mark.parametrize("user", sorted(PAGES))
def test_pages_run_under_the_policy_without_a_violation(open_page, user):
    page, log = open_page("phone", user=user, bypass_csp=False)
    page.add_init_script(VIOLATIONS)
    for path in PAGES[user]:
        response = page.goto(path)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy, path
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__csp") == [], path
        if path == "/map":
            page.locator(".leaflet-container").first.wait_for()
            page.wait_for_function("() => !!(window.gridsysMap && window.gridsysMap.map)")
    assert [e for e in log.console_errors if "Content Security Policy" in e] == []
    assert log.page_errors == []


def test_an_inline_script_without_the_nonce_is_refused(open_page):
    """The policy is not decorative: a script injected into a page does not run."""
    page, _log = open_page("phone", user="w0101a", bypass_csp=False)
    page.goto("/inbox")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                             document.body.appendChild(s); }""")
    assert page.evaluate("() => window.__ran === undefined")
