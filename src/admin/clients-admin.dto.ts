import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import { NoControlCharacters, RoleList, ScopeList } from '../http/validators.js';

/** An optional client name, 1–200 characters without control characters (required where `required`). */
const ClientName = (required: boolean) =>
  applyDecorators(
    required ? ApiProperty({ example: 'nightly-report-job', maxLength: 200 }) : ApiPropertyOptional({ maxLength: 200 }),
    ...(required ? [] : [IsOptional()]),
    IsString(),
    MinLength(1),
    MaxLength(200),
    NoControlCharacters('name'),
  );

export class CreateClientDto {
  @ClientName(true)
  name: string;

  @RoleList('Roles in the client’s tokens (for @Roles())')
  roles?: string[];

  @ScopeList('Scopes the client may ask for (all of them when it asks for none)')
  scopes?: string[];
}

export class UpdateClientDto {
  @ClientName(false)
  name?: string;

  @RoleList('Replaces the roles; removing one ends the client’s current tokens')
  roles?: string[];

  @ScopeList('Replaces the allowed scopes; removing one ends the client’s current tokens')
  scopes?: string[];

  @ApiPropertyOptional({ description: 'Disabling refuses new tokens and ends the current ones within a second' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class RotateSecretDto {
  @ApiPropertyOptional({
    description: 'Seconds the current secret keeps working (default CLIENT_SECRET_GRACE_PERIOD); 0 ends it now',
    minimum: 0,
    maximum: 2_592_000,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2_592_000)
  grace_period?: number;
}

export class ClientDto {
  @ApiProperty({ example: 'svc-3q2f0c1Yb9JpX0aB' }) client_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: [String] }) roles: string[];
  @ApiProperty({ type: [String] }) scopes: string[];
  @ApiProperty() disabled: boolean;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
  @ApiProperty({ format: 'date-time' }) secret_rotated_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) previous_secret_expires_at: string | null;
}

export class ClientWithSecretDto extends ClientDto {
  @ApiProperty({ description: 'Shown once; only its hash is stored' }) client_secret: string;
}
