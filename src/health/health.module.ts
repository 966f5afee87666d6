import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { DatabaseWriteIndicator } from './database-write.indicator.js';
import { HeartbeatsRepository } from './heartbeats.repository.js';

@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [DatabaseWriteIndicator, HeartbeatsRepository] })
export class HealthModule {}
