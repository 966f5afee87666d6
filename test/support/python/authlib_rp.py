"""A Python web app's sign-in through our OpenID Provider, the way authlib's own Flask/Django clients do it.

Authlib (Debian's python3-authlib) does the protocol; this script is the app around it, over stdin/stdout instead of
HTTP so the test can play the person's browser (test/e2e/python-client.e2e.ts):
1. discovery, then the authorization URL with state, nonce and redirect_uri (and PKCE, RFC 9700 §2.1.1): printed as
   one JSON line, as an app would redirect the browser there, keeping state, nonce and verifier in its session;
2. the URL the browser came back to, read from stdin: authlib checks its state and exchanges the code with the client
   secret in HTTP Basic (client_secret_basic);
3. the ID token verified against the provider's JWKS (authlib.jose, CodeIDToken: iss, aud, exp, iat, nonce, azp);
4. UserInfo with the access token; the result printed as one JSON line.

Settings come from the environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI. AUTHLIB_INSECURE_TRANSPORT=1
lets authlib use plain http (the test service listens on http://127.0.0.1).
"""
import json
import os
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken

issuer = os.environ["ISSUER"]
client_id = os.environ["CLIENT_ID"]
redirect_uri = os.environ["REDIRECT_URI"]

metadata = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == issuer, metadata["issuer"]

client = OAuth2Session(
    client_id,
    os.environ["CLIENT_SECRET"],
    scope="openid profile email",
    redirect_uri=redirect_uri,
    token_endpoint_auth_method="client_secret_basic",
    code_challenge_method="S256",
)
nonce = generate_token(20)
code_verifier = generate_token(48)
url, state = client.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce, code_verifier=code_verifier)
print(json.dumps({"authorization_url": url, "state": state}), flush=True)

callback = sys.stdin.readline().strip()
# authlib compares the callback's state with the one it made (MismatchingStateException otherwise).
token = client.fetch_token(
    metadata["token_endpoint"], authorization_response=callback, state=state, code_verifier=code_verifier
)

jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
# Only the algorithms the provider says it signs with: never "none", never an HMAC keyed with a public key.
jwt = JsonWebToken(metadata["id_token_signing_alg_values_supported"])
claims = jwt.decode(
    token["id_token"],
    jwks,
    claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": issuer}},
    claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
)
claims.validate(leeway=5)

userinfo = client.get(metadata["userinfo_endpoint"]).json()
assert userinfo["sub"] == claims["sub"], (userinfo, claims)
print(json.dumps({"token_type": token["token_type"], "id_token": dict(claims), "userinfo": userinfo}), flush=True)
