// A real OpenID Connect provider for the test suite: the certified oidc-provider
// package, on a free loopback port, with its development login and consent forms.
//
//   node provider.mjs <redirect URI>
//
// It prints one line, "ISSUER http://127.0.0.1:<port>", once it answers. Two static
// clients share the redirect URI: "ezhr" (the one the server under test uses) and
// "other" (a second client, for tokens meant for someone else). Every client must use
// PKCE. The accounts below are the only ones that can sign in (any password).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const [redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node provider.mjs <redirect URI>');
  process.exit(2);
}

const ACCOUNTS = {
  alice: {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Nguyen',
    locale: 'vi-VN',
    country: 'VN',
    office: 'Hanoi',
    department: 'People',
    employment_type: 'FULL_TIME',
    groups: ['staff', 'vn-all'],
  },
  bob: {
    email: 'bob@example.com',
    email_verified: true,
    name: 'Bob Admin',
    locale: 'en-US',
    country: 'US',
    department: 'HR',
    groups: ['staff', 'hr-admins'],
  },
  // Signs in with an address a local account already holds, unverified.
  mallory: {
    email: 'taken@example.com',
    email_verified: false,
    name: 'Mallory',
    groups: [],
  },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-test-secret`,
  redirect_uris: [redirectUri],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const configuration = {
  clients: [client('ezhr'), client('other')],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'locale'],
    directory: ['country', 'office', 'department', 'employment_type', 'groups'],
  },
  cookies: { keys: ['ezhr-test-cookie-key'] },
  jwks: { keys: [signingKey] },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
};

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`ISSUER ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
