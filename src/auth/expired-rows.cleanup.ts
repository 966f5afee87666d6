import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AuthorizationCodesService } from './authorization-codes.service.js';
import { LoginStateStore } from './login-state.store.js';
import { LinkTicketsService } from './link-tickets.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';

const EVERY_MS = 10 * 60_000;

/** Deletes used login states and old codes now and then; every instance may do it, the deletes are idempotent. */
@Injectable()
export class ExpiredRowsCleanup implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExpiredRowsCleanup.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly loginStates: LoginStateStore,
    private readonly codes: AuthorizationCodesService,
    private readonly revocations: RevocationsService,
    private readonly linkTickets: LinkTicketsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.run(), EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async run(): Promise<void> {
    try {
      await this.loginStates.purgeExpired();
      await this.codes.purgeExpired();
      await this.revocations.purgeExpired();
      await this.linkTickets.purgeExpired();
    } catch (e) {
      this.logger.warn(`cleanup failed, will retry: ${(e as Error).message}`);
    }
  }
}
