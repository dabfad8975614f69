// Node SDK check: drives the real @gomomento/sdk (native gRPC over @grpc/grpc-js) against the emulator.
//
// Run by tests/integration/test_node_sdk.py, configured by environment variables:
//   MOMENTO_EMULATOR_HOST, MOMENTO_EMULATOR_GRPC_PORT  where the emulator's native gRPC port listens
//   MOMENTO_ROOT_KEY                                   the emulator's root API key, raw
//   MOMENTO_V1_API_KEY                                 the same key wrapped as a v1 key (docs/emulator.md)
//   MOMENTO_CACHE, MOMENTO_TOPIC                       an existing cache and a topic name to use
//   MOMENTO_TOKEN_ID                                   token id to vend (default "node-check")
//   MOMENTO_TOKEN_TTL_SECONDS                          lifetime of the vended token (default 60)
//   MOMENTO_CHECK_TIMEOUT_MS                           overall budget (default 20000)
//
// Steps: give the raw key to CredentialProvider.fromString, as Momento's example token vending machine does (the
// SDK refuses it), then vend a disposable token with the wrapped key through fromString (AuthClient; the Node SDK
// sends the key only in the request body's auth_token, with no authorization metadata), subscribe and publish with
// the vended token, then try to vend with the vended token (must fail: disposable tokens may not call the token
// service), then a publish to a topic outside the token's scope (must fail).
// Prints exactly one JSON line on stdout and exits 0 when the script itself ran to the end (the Python test
// judges the results); exits 1 with {"fatal": ...} on an unexpected exception or when the budget runs out.

import {
  AuthClient,
  AuthClientConfigurations,
  CredentialProvider,
  DisposableTokenScopes,
  ExpiresIn,
  GenerateDisposableToken,
  TopicClient,
  TopicConfigurations,
  TopicPublish,
  TopicSubscribe,
} from '@gomomento/sdk';

// The SDK's default logger writes info/debug lines with console.log; keep stdout for the one result line.
console.log = (...args) => console.error(...args);

const env = process.env;
const host = env.MOMENTO_EMULATOR_HOST ?? '127.0.0.1';
const port = env.MOMENTO_EMULATOR_GRPC_PORT;
const rootKey = env.MOMENTO_ROOT_KEY;
const v1ApiKey = env.MOMENTO_V1_API_KEY;
const cache = env.MOMENTO_CACHE;
const topic = env.MOMENTO_TOPIC;
const tokenId = env.MOMENTO_TOKEN_ID ?? 'node-check';
const ttlSeconds = Number(env.MOMENTO_TOKEN_TTL_SECONDS ?? '60');
const budgetMs = Number(env.MOMENTO_CHECK_TIMEOUT_MS ?? '20000');

function emit(result, exitCode) {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(exitCode));
}

if (!port || !rootKey || !v1ApiKey || !cache || !topic) {
  const required = 'MOMENTO_EMULATOR_GRPC_PORT, MOMENTO_ROOT_KEY, MOMENTO_V1_API_KEY, MOMENTO_CACHE, MOMENTO_TOPIC';
  emit({fatal: `${required} are required`}, 1);
} else {
  const budget = setTimeout(() => emit({fatal: `timed out after ${budgetMs} ms`}, 1), budgetMs);
  main()
    .then(result => {
      clearTimeout(budget);
      emit(result, 0);
    })
    .catch(e => {
      clearTimeout(budget);
      emit({fatal: e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, 1);
    });
}

// A plaintext local endpoint: the three endpoints as grpc-js targets (host:port, no scheme), plus
// secureConnection: false, which makes every Node client use ChannelCredentials.createInsecure().
function endpointOverrides() {
  const target = `${host}:${port}`;
  return {cacheEndpoint: target, controlEndpoint: target, tokenEndpoint: target, secureConnection: false};
}

// The Node SDK's string provider parses its key (base64 JSON {endpoint, api_key}, or a legacy JWT) and refuses a
// v2-shaped key such as the emulator's, so the key comes wrapped (docs/emulator.md's recipe, made by the Python
// test). The inner api_key is what goes on the wire; the endpoint inside is ignored because all are overridden.
function rootCredentials(apiKey) {
  return CredentialProvider.fromString({apiKey, endpointOverrides: endpointOverrides()});
}

function refusal(fn) {
  try {
    fn();
    return {ok: true};
  } catch (e) {
    return {ok: false, message: e instanceof Error ? e.message : String(e)};
  }
}

function tokenCredentials(authToken) {
  return CredentialProvider.fromDisposableToken({authToken, endpointOverrides: endpointOverrides()});
}

function errorOf(response) {
  return {errorCode: response.errorCode(), message: response.message()};
}

async function vend(credentialProvider, scope, id) {
  const auth = new AuthClient({configuration: AuthClientConfigurations.Default.latest(), credentialProvider});
  const response = await auth.generateDisposableToken(scope, ExpiresIn.seconds(ttlSeconds), {tokenId: id});
  if (response instanceof GenerateDisposableToken.Success) {
    return {ok: true, authToken: response.authToken, expiresAt: response.expiresAt.epoch()};
  }
  return {ok: false, ...errorOf(response)};
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

async function main() {
  const result = {ok: false};

  // 0. The raw key, as Momento's example token vending machine passes its secret to fromString.
  result.rawKeyFromString = refusal(() => rootCredentials(rootKey));

  // 1. Vend with the root key, wrapped.
  const scope = DisposableTokenScopes.topicPublishSubscribe(cache, topic);
  const vended = await vend(rootCredentials(v1ApiKey), scope, tokenId);
  result.vend = vended.ok ? {ok: true, expiresAt: vended.expiresAt} : vended;
  if (!vended.ok) {
    return result;
  }

  // 2. Subscribe and publish with the vended token.
  const topics = new TopicClient({
    configuration: TopicConfigurations.Default.latest(),
    credentialProvider: tokenCredentials(vended.authToken),
  });
  const received = [];
  const streamErrors = [];
  const subscription = await topics.subscribe(cache, topic, {
    onItem: item => {
      received.push({value: item.valueString(), sequenceNumber: item.sequenceNumber(), tokenId: item.tokenId()});
    },
    onError: error => streamErrors.push(errorOf(error)),
  });
  if (!(subscription instanceof TopicSubscribe.Subscription)) {
    result.subscribe = {ok: false, ...errorOf(subscription)};
    return result;
  }
  result.subscribe = {ok: true};

  const values = ['node-1', 'node-2'];
  result.publish = [];
  for (const value of values) {
    const published = await topics.publish(cache, topic, value);
    result.publish.push(published instanceof TopicPublish.Success ? {ok: true} : {ok: false, ...errorOf(published)});
  }
  const deadline = Date.now() + 5000;
  while (received.length < values.length && Date.now() < deadline) {
    await sleep(20);
  }
  subscription.unsubscribe();
  result.received = received;
  result.streamErrors = streamErrors;

  // 3. A disposable token may not vend tokens.
  const revend = await vend(tokenCredentials(vended.authToken), scope, 'escalation');
  result.vendWithDisposable = revend.ok ? {ok: true} : revend;

  // 4. Publishing outside the token's scope is refused.
  const outside = await topics.publish(cache, `${topic}-outside-scope`, 'nope');
  result.publishOutsideScope = outside instanceof TopicPublish.Success ? {ok: true} : {ok: false, ...errorOf(outside)};

  result.ok = true;
  return result;
}
