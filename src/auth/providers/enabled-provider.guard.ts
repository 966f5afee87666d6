import { createParamDecorator, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { ProviderRegistry, type EnabledProvider } from './provider-registry.js';

const ENABLED_PROVIDER = Symbol('enabledProvider');
type WithProvider = Request & { [ENABLED_PROVIDER]?: EnabledProvider };

/**
 * Resolves a route's `:provider`: an unknown or disabled provider is a 404 (unknown_provider) before any Passport
 * strategy runs (house style 2). Routes list it before their AuthGuard (ProviderAuthGuard), which runs the strategy of
 * the provider found here.
 */
@Injectable()
export class EnabledProviderGuard implements CanActivate {
  constructor(private readonly registry: ProviderRegistry) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<WithProvider>();
    req[ENABLED_PROVIDER] = this.registry.get(req.params.provider as string);
    return true;
  }
}

/** The provider EnabledProviderGuard resolved for this request. */
export function enabledProvider(req: Request): EnabledProvider {
  const provider = (req as WithProvider)[ENABLED_PROVIDER];
  if (!provider) throw new Error('EnabledProviderGuard has not run for this route');
  return provider;
}

/** The provider EnabledProviderGuard resolved, as a handler parameter. */
export const SignInProvider = createParamDecorator((_: unknown, context: ExecutionContext) =>
  enabledProvider(context.switchToHttp().getRequest<Request>()),
);
