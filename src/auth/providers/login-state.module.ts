import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoginStateStore } from '../login-state.store.js';
import { SignInRepository } from '../sign-in.repository.js';
import { UsedLoginState } from '../used-login-state.entity.js';

/**
 * The sealed login-state cookie every provider's strategy keeps its attempt in (see LoginStateStore), and the sign-in
 * flow's single-use rows it spends (SignInRepository, shared with AuthModule through ProvidersModule).
 */
@Module({
  imports: [TypeOrmModule.forFeature([UsedLoginState])],
  providers: [LoginStateStore, SignInRepository],
  exports: [LoginStateStore, SignInRepository],
})
export class LoginStateModule {}
