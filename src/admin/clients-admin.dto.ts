import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import { NoControlCharacters, RoleList, ScopeList } from '../http/validators.js';
import { CLIENT_AUTH_METHODS, GRANT_TYPES } from '../clients/oauth-metadata.js';

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

/** A list of absolute URLs (RFC 7591 names); what makes one acceptable is checked in oauth-metadata.ts. */
const UriList = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ type: [String], description }),
    IsOptional(),
    IsArray(),
    ArrayMaxSize(20),
    IsString({ each: true }),
    MaxLength(2048, { each: true }),
  );

const BackchannelLogoutUri = () =>
  applyDecorators(
    ApiPropertyOptional({ description: 'OpenID Connect Back-Channel Logout 1.0: where logout tokens are posted' }),
    IsOptional(),
    IsString(),
    MaxLength(2048),
  );

const FirstParty = () =>
  applyDecorators(
    ApiPropertyOptional({ description: 'true: no consent screen, offline_access implied (default false)' }),
    IsOptional(),
    IsBoolean(),
  );

export class CreateClientDto {
  @ClientName(true)
  name: string;

  @RoleList('Roles in the client’s tokens (for @Roles())')
  roles?: string[];

  @ScopeList('Scopes the client may ask for (all of them when it asks for none)')
  scopes?: string[];

  @UriList('OpenID Provider: redirect URIs, compared by exact string')
  redirect_uris?: string[];

  @UriList('Where RP-initiated logout may send the browser afterwards')
  post_logout_redirect_uris?: string[];

  @ApiPropertyOptional({
    type: [String],
    enum: GRANT_TYPES,
    description: 'default client_credentials, or code and refresh with redirect_uris',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(3)
  @IsIn(GRANT_TYPES, { each: true })
  grant_types?: string[];

  @ApiPropertyOptional({ enum: CLIENT_AUTH_METHODS, description: 'default client_secret_basic; none = a public client (no secret, PKCE)' })
  @IsOptional()
  @IsIn(CLIENT_AUTH_METHODS)
  token_endpoint_auth_method?: string;

  @BackchannelLogoutUri()
  backchannel_logout_uri?: string;

  @FirstParty()
  first_party?: boolean;
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

  @UriList('Replaces the redirect URIs (an authorization_code client keeps at least one)')
  redirect_uris?: string[];

  @UriList('Replaces the post-logout redirect URIs')
  post_logout_redirect_uris?: string[];

  @BackchannelLogoutUri()
  backchannel_logout_uri?: string;

  @FirstParty()
  first_party?: boolean;
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
  @ApiProperty({ type: [String] }) redirect_uris: string[];
  @ApiProperty({ type: [String] }) post_logout_redirect_uris: string[];
  @ApiProperty({ type: [String], enum: GRANT_TYPES }) grant_types: string[];
  @ApiProperty({ enum: CLIENT_AUTH_METHODS }) token_endpoint_auth_method: string;
  @ApiProperty({ nullable: true, type: String }) backchannel_logout_uri: string | null;
  @ApiProperty() first_party: boolean;
}

export class ClientWithSecretDto extends ClientDto {
  @ApiProperty({ description: 'Shown once; only its hash is stored. None for a public client (none)', required: false })
  client_secret?: string;
}
