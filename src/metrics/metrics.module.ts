import { Controller, Get, Global, Header, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Public } from '../auth/decorators/public.decorator.js';
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
export class MetricsModule implements NestModule {
  constructor(private readonly metrics: MetricsService) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply((req: Request, res: Response, next: NextFunction) => {
        const end = this.metrics.requestDuration.startTimer();
        res.on('finish', () => {
          // The route pattern, not the URL: ids and codes must not become label values.
          const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
          end({ method: req.method, route, status: String(res.statusCode) });
        });
        next();
      })
      .forRoutes('*');
  }
}
