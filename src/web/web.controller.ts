import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/decorators/public.decorator.js';
import { ProviderRegistry } from '../auth/providers/provider-registry.js';
import { HOME_CSS, HOME_JS } from './assets.js';
import { homePage } from './home.page.js';

@ApiExcludeController()
@Public()
@Controller()
export class WebController {
  constructor(private readonly registry: ProviderRegistry) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  )
  @Header('Referrer-Policy', 'no-referrer')
  home(): string {
    return homePage(this.registry.list());
  }

  @Get('assets/home.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  script(): string {
    return HOME_JS;
  }

  @Get('assets/home.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  style(): string {
    return HOME_CSS;
  }
}
