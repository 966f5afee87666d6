import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoginStateStore } from '../login-state.store.js';
import { UsedLoginState } from '../used-login-state.entity.js';

/** The sealed login-state cookie every provider's strategy keeps its attempt in (see LoginStateStore). */
@Module({ imports: [TypeOrmModule.forFeature([UsedLoginState])], providers: [LoginStateStore], exports: [LoginStateStore] })
export class LoginStateModule {}
