import { DomainError } from '../../../common/domain-error.js';
import { emailOf, isVerified, providerProfile, str, type ProviderProfile } from '../../../accounts/provider-profile.js';
import { isTenantId, MICROSOFT_CONSUMERS_TENANT, type MicrosoftProviderConfig } from '../../../config/config.js';

/**
 * The v2.0 issuer of a tenant: discovery of `common`, `organizations` and `consumers` names the template
 * `https://login.microsoftonline.com/{tenantid}/v2.0`, which a multi-tenant app fills in with the token's own `tid`
 * (Microsoft identity platform, "Validate the issuer"). Tokens of personal accounts carry the consumers tenant.
 */
export const microsoftIssuer = (tid: string) => `https://login.microsoftonline.com/${tid}/v2.0`;

/**
 * Whether a tenant may sign in: the tenant setting first (one tenant id; `consumers` only personal accounts;
 * `organizations` none of them), then MICROSOFT_TENANTS when set. Null when allowed, else why not.
 */
export function tenantRefusal(cfg: Pick<MicrosoftProviderConfig, 'tenant' | 'tenants'>, tid: string): string | null {
  if (isTenantId(cfg.tenant) && tid !== cfg.tenant) return `MICROSOFT_TENANT admits only ${cfg.tenant}`;
  if (cfg.tenant === 'consumers' && tid !== MICROSOFT_CONSUMERS_TENANT) return 'MICROSOFT_TENANT=consumers admits personal accounts only';
  if (cfg.tenant === 'organizations' && tid === MICROSOFT_CONSUMERS_TENANT) {
    return 'MICROSOFT_TENANT=organizations admits work and school accounts only';
  }
  if (cfg.tenants.length > 0 && !cfg.tenants.includes(tid)) return 'the tenant is not in MICROSOFT_TENANTS';
  return null;
}

/**
 * A verified Entra ID v2 ID token as our profile. The subject is `<tid>:<oid>`: the object id is the person's in
 * their tenant and the same for every app, where `sub` is pairwise (per app) and would change with a new app
 * registration. The `email` claim is whatever the account's owner typed, unverified by Microsoft, unless the token
 * carries `xms_edov: true` (the email's domain is verified by its tenant; an optional claim the app registration must
 * ask for, README): only then is it verified, links accounts or grants ADMIN_EMAILS.
 */
export function microsoftProfile(provider: string, idToken: Record<string, unknown>): ProviderProfile {
  const { tid, oid } = idToken;
  if (!isTenantId(tid) || !isTenantId(oid)) {
    throw new DomainError('provider_error', 'Microsoft’s ID token lacks a tenant id (tid) or object id (oid)');
  }
  const claims: Record<string, unknown> = { ...idToken };
  for (const k of ['nonce', 'at_hash', 'c_hash', 'aud', 'azp', 'iat', 'nbf', 'exp', 'auth_time', 'rh', 'uti', 'aio']) delete claims[k];
  const email = emailOf(idToken.email);
  return providerProfile({
    provider,
    subject: `${tid}:${oid}`,
    email,
    emailVerified: email !== null && isVerified(idToken.xms_edov),
    name: str(idToken.name, 200),
    picture: null,
    claims: claims as ProviderProfile['claims'],
  });
}
