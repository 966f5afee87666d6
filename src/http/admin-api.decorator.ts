import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { RateLimit } from './rate-limit.decorator.js';
import { ErrorDto } from './error.dto.js';
import { Roles } from './roles.decorator.js';

/** Admins only: a bearer token with the `admin` role (401 without a token, 403 without the role), admin rate limit. */
export const AdminApi = () =>
  applyDecorators(
    ApiTags('admin'),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'no or invalid bearer token', type: ErrorDto }),
    ApiForbiddenResponse({ description: 'the token lacks the admin role', type: ErrorDto }),
    Roles('admin'),
    RateLimit('admin'),
  );
