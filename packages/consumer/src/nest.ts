import {
  createParamDecorator,
  HttpException,
  Injectable,
  Module,
  SetMetadata,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { AccessTokenError, bearerToken, checkRoles } from './errors.js';
import { AccessTokenVerifier, type AccessTokenClaims, type ConsumerOptions } from './verifier.js';

const IS_PUBLIC = 'socialLogin:public';
const ROLES = 'socialLogin:roles';

/** Opts a route (or controller) out of the global guard. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
/** The token must carry one of these roles (403 otherwise). */
export const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);
/** The verified claims of the caller (a person, or an API client when `client_id` is set). */
export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<{ auth: AccessTokenClaims }>().auth,
);

type HttpResponse = { setHeader?(name: string, value: string): unknown; header?(name: string, value: string): unknown };

/** Global and deny by default: every route needs a valid access token unless marked @Public(). */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: AccessTokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<{ headers: Record<string, unknown>; auth?: AccessTokenClaims }>();
    try {
      const token = bearerToken(req.headers.authorization);
      if (!token) throw new AccessTokenError('invalid_token', 'a bearer access token is required');
      req.auth = await this.verifier.verify(token);
      checkRoles(req.auth, this.reflector.getAllAndOverride<string[] | undefined>(ROLES, targets) ?? []);
      return true;
    } catch (e) {
      if (!(e instanceof AccessTokenError)) throw e;
      const challenge = e.wwwAuthenticate;
      if (challenge) {
        const res = http.getResponse<HttpResponse>();
        (res.setHeader ?? res.header)?.call(res, 'WWW-Authenticate', challenge);
      }
      throw new HttpException(e.body, e.status, { cause: e });
    }
  }
}

/** `ConsumerAuthModule.forRoot({ issuer, audience })` once in the root module: the guard then covers every route. */
@Module({})
export class ConsumerAuthModule {
  static forRoot(options: ConsumerOptions): DynamicModule {
    return {
      module: ConsumerAuthModule,
      global: true,
      providers: [
        { provide: AccessTokenVerifier, useFactory: () => new AccessTokenVerifier(options) },
        { provide: APP_GUARD, useClass: AccessTokenGuard },
      ],
      exports: [AccessTokenVerifier],
    };
  }
}

export { AccessTokenVerifier, AccessTokenError, type AccessTokenClaims, type ConsumerOptions };
