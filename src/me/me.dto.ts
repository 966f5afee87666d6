import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI shapes of /me. */
export class IdentityDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'google' }) provider: string;
  @ApiProperty({ description: 'the provider’s subject identifier' }) subject: string;
  @ApiProperty({ nullable: true, type: String }) email: string | null;
  @ApiProperty({ format: 'date-time' }) linkedAt: string;
}

export class MeDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String }) email: string | null;
  @ApiProperty() emailVerified: boolean;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ nullable: true, type: String }) picture: string | null;
  @ApiProperty({ type: [String], example: ['user'] }) roles: string[];
  @ApiProperty({ type: [IdentityDto] }) identities: IdentityDto[];
}

export class SessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'the session of the presented token' }) current: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) lastUsedAt: string;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description: 'an app’s session: the browser session it was signed in through',
  })
  browserSessionId: string | null;
  @ApiProperty({ nullable: true, type: () => SessionClientDto, description: 'the OpenID Provider’s client this session is for' })
  client: SessionClientDto | null;
}

export class SessionClientDto {
  @ApiProperty() clientId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
}

export class ClaimsDto {
  @ApiProperty() iss: string;
  @ApiProperty() aud: string;
  @ApiProperty({ description: 'the user id' }) sub: string;
  @ApiProperty() iat: number;
  @ApiProperty() nbf: number;
  @ApiProperty() exp: number;
  @ApiProperty() jti: string;
  @ApiProperty({ description: 'the session' }) sid: string;
  @ApiProperty({ type: [String] }) roles: string[];
}
