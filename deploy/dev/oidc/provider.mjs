// A real OpenID Connect provider (node-oidc-provider, OpenID Certified) for the sign-on tests.
//
//   node deploy/dev/oidc/provider.mjs CONFIG.json
//
// CONFIG.json: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "clients": [...client
// metadata...], "users_file": "users.json", "clock_skew_seconds": 0}
// users.json: {"alice": {"password": "...", "email": "...", "name": "...", "groups": [...]}},
// read again at every sign-in, so a test changes a user's groups between two sign-ins the way
// a directory admin would.
// The login page is this file's own small form (user name and password checked against
// users.json); consent is granted for the portal's scopes, as for a first-party client.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// A provider whose clock is off by N seconds: every time it puts in a token moves with it.
if (config.clock_skew_seconds) {
  const realNow = Date.now;
  Date.now = () => realNow() + config.clock_skew_seconds * 1000;
}

const { default: Provider } = await import('oidc-provider');

const users = () => JSON.parse(readFileSync(config.users_file, 'utf8'));

const scopes = ['openid', 'offline_access', 'email', 'profile', 'groups'];
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: [signingKey] },
  scopes,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  // Dex sends the groups inside the ID token; keep the provider's default for the code flow
  // (claims only from the userinfo endpoint) unless a test asks for the other shape.
  conformIdTokenClaims: !config.claims_in_id_token,
  cookies: { keys: ['opsdesk-test-cookie-key'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, sub) {
    const user = users()[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const [given, ...family] = (user.name || sub).split(' ');
        return {
          sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          given_name: given,
          family_name: family.join(' '),
          preferred_username: sub,
          groups: user.groups || [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(scopes.join(' '));
    await grant.save();
    return grant;
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 300, AccessToken: 300, RefreshToken: 3600 },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

const loginPage = (uid, error) => `<!doctype html><html><head><title>Test identity provider</title></head>
<body><h1>Test identity provider</h1>${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}">
<input name="login" autocomplete="username"><input name="password" type="password">
<button type="submit">Sign in</button></form></body></html>`;

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginPage(details.uid);
    return undefined;
  }
  const form = await readForm(ctx.req);
  const user = users()[form.login];
  if (!user || user.password !== form.password) {
    ctx.type = 'html';
    ctx.status = 401;
    ctx.body = loginPage(details.uid, 'Wrong user name or password');
    return undefined;
  }
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: form.login } },
    { mergeWithLastSubmission: false });
  return undefined;
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${config.issuer}\n`);
});
