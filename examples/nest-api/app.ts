import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConsumerAuthModule, CurrentUser, Public, Roles, type AccessTokenClaims, type ConsumerOptions } from '@social-login/consumer/nest';

/** A NestJS API protected by the kit: every route needs our access token unless @Public(). */
@Controller()
class ReportsController {
  @Public()
  @Get('health')
  health() {
    return { ok: true };
  }

  @Get('profile')
  profile(@CurrentUser() user: AccessTokenClaims) {
    return { sub: user.sub, roles: user.roles };
  }

  @Roles('admin')
  @Get('reports')
  reports(@CurrentUser() user: AccessTokenClaims) {
    return { reports: [], for: user.sub };
  }
}

export async function createNestApi(options: ConsumerOptions) {
  @Module({ imports: [ConsumerAuthModule.forRoot(options)], controllers: [ReportsController] })
  class AppModule {}
  return NestFactory.create(AppModule, { logger: false });
}
