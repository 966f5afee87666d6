import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { NoNul, RoleList } from '../http/validators.js';

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class ListUsersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Matches email and name (substring, any case) and provider subject (exact)', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @NoNul('query')
  query?: string;
}

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ example: 'sign_in' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @NoNul('type')
  type?: string;
}

export class UpdateUserDto {
  @RoleList('Assigned roles (replaces them); provider-mapped roles are kept apart', ['user', 'admin'])
  roles?: string[];

  @ApiPropertyOptional({ description: 'Disabling ends all of the user’s sessions' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class MergeUsersDto {
  @ApiProperty({ format: 'uuid', description: 'The account whose identities and roles move into this one; it is then deleted' })
  @IsUUID()
  sourceUserId: string;
}

/** OpenAPI shapes of the admin responses. */
export class UserSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String }) email: string | null;
  @ApiProperty() emailVerified: boolean;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ nullable: true, type: String }) picture: string | null;
  @ApiProperty({ type: [String], description: 'assigned and provider-mapped' }) roles: string[];
  @ApiProperty() disabled: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class UserPageDto {
  @ApiProperty({ type: [UserSummaryDto] }) items: UserSummaryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class AdminIdentityDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() provider: string;
  @ApiProperty() subject: string;
  @ApiProperty({ nullable: true, type: String }) email: string | null;
  @ApiProperty() emailVerified: boolean;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ type: [String] }) mappedRoles: string[];
  @ApiProperty({ format: 'date-time' }) linkedAt: string;
  @ApiProperty({ format: 'date-time' }) lastSignInAt: string;
}

export class AdminSessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) lastUsedAt: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description: 'an app’s session: the browser session it was signed in through',
  })
  browserSessionId: string | null;
  @ApiProperty({ nullable: true, type: () => AdminSessionClientDto, description: 'the OpenID Provider’s client this session is for' })
  client: AdminSessionClientDto | null;
}

export class AdminSessionClientDto {
  @ApiProperty() clientId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
}

export class UserDetailDto extends UserSummaryDto {
  @ApiProperty({ type: [String] }) assignedRoles: string[];
  @ApiProperty({ type: [String] }) providerRoles: string[];
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
  @ApiProperty({ type: [AdminIdentityDto] }) identities: AdminIdentityDto[];
  @ApiProperty({ type: [AdminSessionDto] }) sessions: AdminSessionDto[];
}

export class AuditEventDto {
  @ApiProperty() id: string;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ example: 'sign_in' }) type: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'who acted: a user id (an admin, or the user themselves: signing out, unlinking), "cli", or null for the service (sign-in, reuse detected)',
  })
  actorId: string | null;
  @ApiProperty({ nullable: true, type: String }) userId: string | null;
  @ApiProperty({ nullable: true, type: String }) provider: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the rule or reason, e.g. existing_identity' }) reason: string | null;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: Object }) details: Record<string, unknown> | null;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items: AuditEventDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class RevokedDto {
  @ApiProperty({ description: 'sessions that were active' }) revoked: number;
}
