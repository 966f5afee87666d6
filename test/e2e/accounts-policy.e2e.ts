import { TestBrowser } from '../support/browser.js';
import { signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** AUTO_LINK_VERIFIED_EMAIL and ADMIN_EMAILS: only provider-verified emails count, and Facebook never verifies. */
describe('email-based rules with AUTO_LINK_VERIFIED_EMAIL=true and ADMIN_EMAILS', () => {
  let world: World;
  let url: string;

  beforeAll(async () => {
    world = await startWorld({ AUTO_LINK_VERIFIED_EMAIL: 'true', ADMIN_EMAILS: 'Boss@Corp.test,Kate@Corp.test' });
    url = world.service.url;
  });

  afterAll(async () => {
    await world?.close();
  });

  afterEach(() => {
    expect(world.service.serverErrors).toEqual([]);
  });

  const signIn = (provider: string, login: string) => signInAndGetTokens(new TestBrowser(), url, provider, { login });

  it('links a new identity with a verified email to the account whose email was also verified', async () => {
    world.corp.accounts.set('kim', { email: 'kim@shared.test', email_verified: true, name: 'Kim' });
    world.google.accounts.set('kim-g', { email: 'KIM@shared.test', email_verified: true, name: 'Kim G' });
    const first = await signIn('corp', 'kim');
    const second = await signIn('google', 'kim-g');
    expect(second.me.id).toBe(first.me.id);
    expect(second.me.identities.map((i: { provider: string }) => i.provider).sort()).toEqual(['corp', 'google']);
  });

  it('does not link when the new identity’s email is unverified', async () => {
    world.corp.accounts.set('lee', { email: 'lee@shared.test', email_verified: true });
    world.acme.accounts.set('lee-a', { email: 'lee@shared.test', email_verified: false });
    const first = await signIn('corp', 'lee');
    const second = await signIn('acme', 'lee-a');
    expect(second.me.id).not.toBe(first.me.id);
  });

  it('does not link to an account whose own email was never verified', async () => {
    world.acme.accounts.set('max-a', { email: 'max@shared.test', email_verified: false });
    world.corp.accounts.set('max', { email: 'max@shared.test', email_verified: true });
    const first = await signIn('acme', 'max-a');
    const second = await signIn('corp', 'max');
    expect(second.me.id).not.toBe(first.me.id);
  });

  it('never links on a Facebook email, in either direction', async () => {
    world.facebook.users.set('nia-fb', { id: '900001', name: 'Nia', email: 'nia@shared.test' });
    world.corp.accounts.set('nia', { email: 'nia@shared.test', email_verified: true });
    const corp = await signIn('corp', 'nia');
    const fb = await signIn('facebook', 'nia-fb');
    expect(fb.me.id).not.toBe(corp.me.id);
    expect(fb.me.emailVerified).toBe(false);
  });

  it('grants admin for an ADMIN_EMAILS address only when the provider verified it', async () => {
    world.acme.accounts.set('boss-fake', { email: 'boss@corp.test', email_verified: false });
    world.corp.accounts.set('boss', { email: 'boss@corp.test', email_verified: true });
    world.facebook.users.set('boss-fb', { id: '900002', name: 'Boss?', email: 'boss@corp.test' });
    expect((await signIn('acme', 'boss-fake')).me.roles).toEqual(['user']);
    expect((await signIn('facebook', 'boss-fb')).me.roles).toEqual(['user']);
    const real = await signIn('corp', 'boss');
    expect(real.me.roles).toEqual(['user', 'admin']);
    const claims = JSON.parse(Buffer.from(real.tokens.access_token.split('.')[1], 'base64url').toString());
    expect(claims.roles).toEqual(['user', 'admin']);
  });

  it('keeps a verified "\u212Aate@corp.test" (Kelvin sign) apart from kate@corp.test: its own account, no ADMIN_EMAILS admin, either order', async () => {
    // Unicode lower-casing maps the Kelvin sign to "k": that address would have joined Kate's account, as admin.
    world.google.accounts.set('kelvin', { email: '\u212Aate@corp.test', email_verified: true, name: 'Not Kate' });
    world.acme.accounts.set('kate', { email: 'KATE@corp.test', email_verified: true, name: 'Kate' });
    world.corp.accounts.set('kelvin-2', { email: '\u212AATE@CORP.TEST', email_verified: true, name: 'Not Kate either' });
    const before = await signIn('google', 'kelvin');
    const kate = await signIn('acme', 'kate');
    const after = await signIn('corp', 'kelvin-2');
    expect(kate.me).toMatchObject({ email: 'kate@corp.test', roles: ['user', 'admin'] });
    for (const other of [before, after]) {
      expect(other.me.id).not.toBe(kate.me.id);
      expect(other.me.roles).toEqual(['user']);
    }
    // The two Kelvin-sign addresses are one mailbox (ASCII case folding), so they do join each other.
    expect(after.me.id).toBe(before.me.id);
    expect(before.me.email).toBe('\u212Aate@corp.test');
  });
});
