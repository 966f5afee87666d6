import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import { AppLogger } from './app-logger.js';

/** The root pino logger (JSON lines to stdout, or to the stream tests pass). */
export const APP_LOG = Symbol('APP_LOG');

/**
 * Structured JSON logs (pino): Nest's own messages through {@link AppLogger}, one line per request through
 * `observeRequests` (bootstrap.ts).
 */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(level: string, stream?: Writable): DynamicModule {
    // The request log's `err` is already described (type and message, and a stack only for a bug): pino's own
    // serializer would replace its type with "Object" and add an empty stack. Real errors still go through it.
    const serializers = { err: (e: unknown) => (e instanceof Error ? pino.stdSerializers.err(e) : e) };
    const log = stream ? pino({ level, serializers }, stream) : pino({ level, serializers });
    return {
      module: LoggingModule,
      providers: [
        { provide: APP_LOG, useValue: log },
        { provide: AppLogger, useValue: new AppLogger(log) },
      ],
      exports: [APP_LOG, AppLogger],
    };
  }
}
