// Runtime settings for the chat site, loaded by index.html before the app. This file is an EXAMPLE pointing at the
// local stack's defaults: `make dev` (local/devstack) serves its own generated /config.js, and the site publisher
// writes one from the deployed stack's outputs. It holds no secrets, and must never hold any.
//
//   apiUrl                   the token vending machine's base URL (GET {apiUrl}/token); in Session mode also a
//                            same-origin path such as "/api/momento"
//   authMethod               "Open" | "LambdaAuthorizer" | "AmazonCognito" (the stack's AuthenticationMethod), or
//                            "Session": the host app's own cookie login (an app embedding momento_tvm)
//   momentoEndpointOverride  optional: a grpc-web URL used as is for every Momento call (the local emulator);
//                            omit it in production, where the SDK derives the endpoint from the token
//   tokenTtlSeconds          optional: ask the TVM for tokens of this lifetime (10 .. the tier's maximum)
//   cognito                  AmazonCognito only: {region, userPoolId, clientId, endpoint?} (the stack's outputs);
//                            endpoint is the Cognito IdP API's URL for the local moto only, e.g.
//                            {region: "us-east-1", userPoolId: "us-east-1_...", clientId: "...", endpoint: "http://127.0.0.1:5000"}
//   session                  Session only: {loginUrl, logoutUrl}, same-origin paths of the host app ("/login",
//                            "/logout"); `make embedded` serves this mode (examples/fastapi_chat)
window.TVM_CONFIG = {
  apiUrl: "http://127.0.0.1:3000",
  authMethod: "LambdaAuthorizer",
  momentoEndpointOverride: "http://127.0.0.1:8081",
};
