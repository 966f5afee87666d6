import { Module } from '@nestjs/common';
import { LoginStateStore } from '../login-state.store.js';

/** The sealed login-state cookie every provider's strategy keeps its attempt in (see LoginStateStore). */
@Module({ providers: [LoginStateStore], exports: [LoginStateStore] })
export class LoginStateModule {}
