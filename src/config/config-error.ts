/** A configuration the service cannot start with; the message names the variable (never its value: it may be a secret). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
