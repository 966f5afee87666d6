import { SetMetadata } from '@nestjs/common';

export const ROLES = 'roles';
/** The caller needs at least one of these roles (checked on every request, from the verified token). */
export const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);
