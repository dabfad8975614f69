"""docs/embedding.md's web-SDK control client (`control-client.js`), as written, in headless chromium against the
emulator's grpc-web port: bundled with the real @gomomento/sdk-web by esbuild (tests/js's), given a token the library
vended, it hears the operator's message (published by tvm_users' own `tell`, with the API key) and ignores the very
same bytes published by the token's holder on every control topic."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from momento_tvm import MomentoSettings, VendingMachine, verified_identity
from momento_tvm.control import message, tier_subject
from tests.conftest import RunningEmulator
from tests.integration.test_readme_embedding import EMBEDDING, examples
from tests.sdk_rights import emulator_provider, topic_config
from tvm_users.tell import Momento, tell

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"
DRIVER = """
import {CredentialProvider} from '@gomomento/sdk-web';
import {listenForCutOff} from './control-client.js';

window.cutOffs = [];
window.listen = async (answer, webUrl) => {
  const credentialProvider = CredentialProvider.fromDisposableToken({
    authToken: answer.authToken,
    endpointOverrides: {cacheEndpoint: webUrl, controlEndpoint: webUrl, tokenEndpoint: webUrl},
  });
  window.stopListening = await listenForCutOff(answer, credentialProvider, event => window.cutOffs.push(event));
  return true;
};
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The snippet and a driver bundled into one script, on a page of its own origin (not the emulator's)."""
    folder = tmp_path_factory.mktemp("control-client")
    (folder / "control-client.js").write_text(examples(EMBEDDING, "embedding-example")["control-client.js"])
    (folder / "entry.js").write_text(DRIVER)
    (folder / "index.html").write_text('<!doctype html><meta charset="utf-8"><script src="bundle.js"></script>')
    esbuild = JS_DIR / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), "tests/js/node_modules is missing: run make install-js"
    subprocess.run(
        [str(esbuild), "entry.js", "--bundle", "--format=iife", "--platform=browser", "--outfile=bundle.js"],
        cwd=folder,
        env={**os.environ, "NODE_PATH": str(JS_DIR / "node_modules")},
        check=True,
        timeout=120,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, page_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(page_url)
    yield page
    await context.close()


async def cut_offs(page: Page) -> list[str]:
    result: list[str] = await page.evaluate("() => window.cutOffs")
    return result


async def test_the_documented_client_obeys_the_operator_and_never_a_users_forgery(
    page: Page, emulator: RunningEmulator
) -> None:
    alice = verified_identity("alice", ["readwrite"])
    with VendingMachine(POLICY, MomentoSettings.emulator(port=emulator.grpc_port), cache_name=emulator.cache_name) as m:
        answer = m.vend(alice).to_json()
    assert await page.evaluate("([a, url]) => window.listen(a, url)", [answer, emulator.web_url])

    # alice (readwrite: `*`) publishes the operator's exact bytes on each of her control topics: all ignored.
    from momento import TopicClientAsync
    from momento.responses import TopicPublish

    async with TopicClientAsync(topic_config(), emulator_provider(answer["authToken"], emulator.grpc_port)) as client:
        for topic in answer["control"]["topics"]:
            published = await client.publish(answer["control"]["cache"], topic, message("revoked"))
            assert isinstance(published, TopicPublish.Success), published
    await asyncio.sleep(1.5)
    assert await cut_offs(page) == []

    operator = Momento(lambda: emulator.api_key, f"127.0.0.1:{emulator.grpc_port}", emulator.cache_name, "emulator")
    await asyncio.to_thread(tell, operator, "user#alice", "revoked")
    await page.wait_for_function("() => window.cutOffs.length >= 1", timeout=10_000)
    await asyncio.to_thread(tell, operator, tier_subject("readwrite"), "paused")
    await asyncio.to_thread(tell, operator, "all", "resumed")  # a lift the page did not need: nothing to do
    await page.wait_for_function("() => window.cutOffs.length >= 2", timeout=10_000)
    await asyncio.sleep(0.5)
    assert await cut_offs(page) == ["revoked", "paused"], json.dumps(await cut_offs(page))
    await page.evaluate("() => window.stopListening()")
