import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI shape of every error answer (DomainErrorFilter): RFC 6749 §5.2's `error` and `error_description`. */
export class ErrorDto {
  @ApiProperty({ example: 'invalid_grant' }) error: string;
  @ApiProperty() error_description: string;
}
