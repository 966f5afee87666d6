import { Global, Inject, Module, type DynamicModule } from '@nestjs/common';
import type { ResolvedConfig } from './app-secret.js';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injects the configuration validated at start-up. */
export const InjectConfig = () => Inject(APP_CONFIG);

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
