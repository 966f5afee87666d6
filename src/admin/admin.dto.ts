import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { ROLE_NAME } from '../config/config.js';

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
  type?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ description: 'Assigned roles (replaces them); provider-mapped roles are kept apart', example: ['user', 'admin'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Matches(ROLE_NAME, { each: true, message: 'each role must be a name of letters, digits and . _ : -' })
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
