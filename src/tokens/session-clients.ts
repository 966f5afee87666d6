/**
 * Which of a person's sessions belong to an app signed in through the OpenID Provider, and which app: the session
 * lists (`/me/sessions`, the admin API's user) show "Chrome on Linux → signed in to Wiki". The OpenID Provider
 * (oidc/, above the features that list sessions) provides it when it is on; without it no session has a client.
 */
export const SESSION_CLIENTS = Symbol('SESSION_CLIENTS');

export interface SessionClient {
  clientId: string;
  /** null once the client is deleted. */
  name: string | null;
}

export interface SessionClients {
  /** Session id → its client, for the person's sessions that have one. */
  of(userId: string): Promise<Map<string, SessionClient>>;
}
