// Submits the page's form at once: oidc-provider's logout step after a valid id_token_hint, where the contract wants
// no confirmation page (shared/docs/http-api.md, end_session_endpoint). Same-origin, so the CSP needs no inline script.
document.addEventListener('DOMContentLoaded', () => document.forms[0]?.submit());
