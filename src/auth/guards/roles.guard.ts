import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../../common/domain-error.js';
import type { AuthenticatedRequest } from './jwt-auth.guard.js';
import { ROLES } from '../../http/roles.decorator.js';

/** Runs after JwtAuthGuard: a route with @Roles() needs one of them in the verified token. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES, [context.getHandler(), context.getClass()]);
    if (!required?.length) return true;
    const { auth } = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!auth) throw new DomainError('invalid_token', 'a bearer access token is required');
    if (!required.some((r) => auth.roles.includes(r))) throw new DomainError('forbidden', `this needs the role ${required.join(' or ')}`);
    return true;
  }
}
