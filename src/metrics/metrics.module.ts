import { Controller, Get, Global, Header, Module } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import { Public } from '../http/public.decorator.js';
import { MetricsService } from './metrics.service.js';

@Public()
@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text format. Expose it to your scraper only (e.g. block /metrics at the load balancer). */
  @Get()
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
