import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { DatabaseWriteIndicator } from './database-write.indicator.js';
import { HeartbeatsRepository } from './heartbeats.repository.js';

/**
 * Terminus's own logger is off: it would log every failed readiness probe at error level. A 503 from readiness is
 * logged like every outage's 503, as a throttled warning (`observeRequests`).
 */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DatabaseWriteIndicator, HeartbeatsRepository],
})
export class HealthModule {}
