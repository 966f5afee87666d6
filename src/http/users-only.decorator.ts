import { SetMetadata } from '@nestjs/common';

export const USERS_ONLY = 'usersOnly';
/** A route about the signed-in person (`/me`): an API client's token is refused there with 403. */
export const UsersOnly = () => SetMetadata(USERS_ONLY, true);
