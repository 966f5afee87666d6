import { Inject, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AuthGuard, type AuthGuardAuthenticateOptions, type IAuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import { DomainError } from '../../common/domain-error.js';
import type { LoginAttempt } from '../login-state.store.js';
import { enabledProvider } from './enabled-provider.guard.js';
import type { EnabledProvider } from './provider-registry.js';
import type { ProviderProfile } from '../../accounts/provider-profile.js';

/**
 * Runs the Passport strategy of the provider EnabledProviderGuard resolved, through @nestjs/passport's AuthGuard, with
 * this route's getAuthenticateOptions, handleRequest and getResponse. `AuthGuard(name)` binds the strategy name when it
 * makes the guard class, and each enabled provider has a strategy of its own (`oidc:<id>#n`, see strategyName), so a
 * route keeps one AuthGuard per provider: made on the provider's first request, then reused (as many as there are
 * enabled providers). Sessions stay off (AuthGuard's default `session: false`) and nothing calls `req.logIn`: the
 * route's handleRequest decides what the outcome is.
 */
export abstract class ProviderAuthGuard implements CanActivate {
  private readonly authGuards = new Map<string, IAuthGuard>();

  /** The options the strategy's `authenticate` gets for this request. */
  abstract getAuthenticateOptions(context: ExecutionContext): Promise<object> | object;

  /** What the strategy decided (Passport's err, user, info): the value for `req.user`, or a thrown error. */
  abstract handleRequest(err: unknown, user: unknown, info: unknown, context: ExecutionContext): unknown;

  /** Where Passport writes a strategy's redirect; by default the response itself. */
  getResponse(context: ExecutionContext): unknown {
    return context.switchToHttp().getResponse();
  }

  canActivate(context: ExecutionContext): Promise<boolean> {
    const { strategyName } = enabledProvider(context.switchToHttp().getRequest<Request>());
    return this.authGuard(strategyName).canActivate(context) as Promise<boolean>;
  }

  private authGuard(strategyName: string): IAuthGuard {
    let guard = this.authGuards.get(strategyName);
    if (!guard) {
      const route = this;
      guard = new (class extends AuthGuard(strategyName) {
        override getAuthenticateOptions(context: ExecutionContext) {
          // Typed for passport's own options, whose `state` is a string: ours is the attempt, for our state stores.
          return route.getAuthenticateOptions(context) as Promise<AuthGuardAuthenticateOptions>;
        }
        override handleRequest<TUser>(err: unknown, user: unknown, info: unknown, context: ExecutionContext): TUser {
          return route.handleRequest(err, user, info, context) as TUser;
        }
        getResponse(context: ExecutionContext): unknown {
          return route.getResponse(context);
        }
      })();
      this.authGuards.set(strategyName, guard);
    }
    return guard;
  }
}

/**
 * The routes that start a sign-in: the attempt goes to the strategy as its `state` option, and its state store seals
 * it into the login-state cookie (passport-state-stores.ts); the strategy answers with the redirect to the provider,
 * so the route's handler never runs.
 */
export abstract class ProviderLoginGuard extends ProviderAuthGuard {
  /** Nest's adapter-neutral response API (docs/fastify-trial.md, step 1); a property, so subclasses need not pass it. */
  @Inject(HttpAdapterHost) private readonly adapterHost!: HttpAdapterHost;

  /** This sign-in's attempt (returnTo, nonce, PKCE verifier, …); what may go wrong before it is an error redirect. */
  protected abstract attempt(req: Request, provider: EnabledProvider): Promise<LoginAttempt>;

  async getAuthenticateOptions(context: ExecutionContext): Promise<{ state: LoginAttempt }> {
    const req = context.switchToHttp().getRequest<Request>();
    return { state: await this.attempt(req, enabledProvider(req)) };
  }

  /** Only reached when the strategy did not redirect: its error as it is, else a server error. */
  handleRequest(err: unknown, _user: unknown, _info: unknown, context: ExecutionContext): never {
    if (err) throw err;
    const provider = enabledProvider(context.switchToHttp().getRequest<Request>());
    throw new DomainError('server_error', `provider ${provider.id} did not redirect`);
  }

  /**
   * Passport sends a strategy's redirect itself: status and Location, and an empty body. The redirect to the provider
   * is sent as the service's other redirects are, by the adapter's `redirect` (on Express its short body and
   * `Vary: Accept`), and never cached: it carries a state of this browser's only.
   */
  override getResponse(context: ExecutionContext): unknown {
    const res = context.switchToHttp().getResponse<unknown>();
    const http = this.adapterHost.httpAdapter;
    let status = 302;
    let location = '';
    return {
      set statusCode(value: number) {
        status = value;
      },
      setHeader(name: string, value: string) {
        if (name.toLowerCase() === 'location') location = value;
      },
      end() {
        http.setHeader(res, 'Cache-Control', 'no-store');
        http.redirect(res, status, location);
      },
    };
  }
}

/** The profile the provider's strategy verified (its `validate`), which AuthGuard put on the request. */
export const VerifiedProfile = createParamDecorator(
  (_: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<Request & { user?: ProviderProfile }>().user,
);
