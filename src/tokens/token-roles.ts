/**
 * What tokens carry and guards check: a user's assigned roles plus the provider-mapped ones. It lives here, below
 * accounts/, because refresh rotation applies it to the user row it reads with the session (SessionsService).
 */
export function effectiveRoles(user: { roles: string[]; providerRoles: string[] }): string[] {
  return [...new Set([...user.roles, ...user.providerRoles])];
}
