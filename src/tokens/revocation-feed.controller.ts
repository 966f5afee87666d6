import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../http/public.decorator.js';
import { sha256 } from '../common/crypto.js';
import { REVOCATION_POLL_MS, RevocationsService } from './revocations.service.js';

class RevokedSessionDto {
  @ApiProperty({ description: 'SHA-256 (base64url) of the revoked `sid`' }) sid_sha256: string;
  @ApiProperty({ description: 'Seconds since the epoch after which the entry can be forgotten' }) exp: number;
}

class RevokedSubjectDto {
  @ApiProperty({ description: 'SHA-256 (base64url) of the `sub` (a user or an API client)' }) sub_sha256: string;
  @ApiProperty({ description: 'Tokens of this subject with `iat` ≤ this (seconds) are revoked' }) not_before: number;
  @ApiProperty({ description: 'Seconds since the epoch after which the entry can be forgotten' }) exp: number;
}

class RevocationFeedDto {
  @ApiProperty({ type: [RevokedSessionDto] }) sessions: RevokedSessionDto[];
  @ApiProperty({ type: [RevokedSubjectDto] }) subjects: RevokedSubjectDto[];
  @ApiProperty({ description: 'How often to poll, in milliseconds, to keep the service’s own revocation bound' })
  poll_interval_ms: number;
}

/**
 * The revocations apps need to refuse revoked-but-unexpired access tokens without asking us per request. Identifiers
 * are published only as SHA-256 hashes: a verifier hashes the `sid` and `sub` of a token it holds and looks them up,
 * while the feed itself reveals no session or user id. Express answers a repeated poll with 304 (ETag).
 */
@ApiTags('for apps')
@Public()
@Controller('auth')
export class RevocationFeedController {
  constructor(private readonly revocations: RevocationsService) {}

  @Get('revocations')
  @Header('Cache-Control', 'no-cache')
  @ApiOkResponse({ type: RevocationFeedDto })
  async feed(): Promise<RevocationFeedDto> {
    const { sessions, subjects } = await this.revocations.current();
    const seconds = (ms: number) => Math.floor(ms / 1000);
    return {
      sessions: sessions.map((r) => ({ sid_sha256: sha256(r.subject!), exp: seconds(r.expiresAt) })),
      subjects: subjects.map((r) => ({ sub_sha256: sha256(r.subject!), not_before: seconds(r.notBefore!), exp: seconds(r.expiresAt) })),
      poll_interval_ms: REVOCATION_POLL_MS,
    };
  }
}
