import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** OpenAPI shapes of the sign-in and token routes (the handlers validate by RFC 6749's rules themselves). */
export class ProviderDto {
  @ApiProperty({ example: 'google' }) id: string;
  @ApiProperty({ example: 'Google' }) name: string;
  @ApiProperty({ enum: ['google', 'facebook', 'oidc', 'github', 'oauth2'] }) type: string;
}

export class TokenRequestDto {
  @ApiProperty({ enum: ['authorization_code', 'refresh_token'] }) grant_type: string;
  @ApiPropertyOptional({ description: 'authorization_code: the one-time code from the callback redirect' }) code?: string;
  @ApiPropertyOptional({ description: 'authorization_code: the PKCE verifier, when the login sent a code_challenge' })
  code_verifier?: string;
  @ApiPropertyOptional({ description: 'refresh_token: the current refresh token (single use)' }) refresh_token?: string;
}

export class TokenResponseDto {
  @ApiProperty({ description: 'RFC 9068 JWT' }) access_token: string;
  @ApiProperty({ example: 'Bearer' }) token_type: string;
  @ApiProperty({ example: 900 }) expires_in: number;
  @ApiProperty({ description: 'opaque, single use' }) refresh_token: string;
}

export class LogoutRequestDto {
  @ApiPropertyOptional({ description: 'ends this refresh token’s session; or send a bearer access token instead' }) refresh_token?: string;
}
