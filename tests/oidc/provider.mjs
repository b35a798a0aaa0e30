// The OpenID provider of the test harness: `oidc-provider` (an OpenID Certified implementation)
// with the shape of an Italian public-service identity broker (SPID/CIE): an opaque `sub`, the
// fiscal code in `fiscal_number` with its `TINIT-` prefix, JWT access tokens for the service's
// audience (RFC 9068). Started by `diario_tests::oidc::OpenIdProvider` on a loopback port.
//
// Environment: OP_PORT (0: any free port), OP_ALG (RS256 | PS256 | ES256: how access tokens are
// signed), OP_AUDIENCE (the resource the access tokens are for), OP_REDIRECT_URIS (comma-separated).
// On start it prints one JSON line on stdout: {"issuer": "...", "kids": [...]}.
//
// Each start generates new signing keys with new key ids: starting again on the same port is a
// key rotation at the same issuer.
//
// The only test shortcut is the login step: the interaction logs in the account named by the
// `login_hint` parameter (no password form), and consent is granted by `loadExistingGrant`.
// Everything else (discovery, JWKS, PKCE, codes, tokens, signatures) is the provider's own.
// A login hint may end with `;shape` to ask for a token a test needs: `aud-array` (the audience
// as an array with another resource), `no-iss` (the issuer removed), `expired` (exp in the past),
// `no-fiscal-number`.
import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT ?? 0);
const alg = process.env.OP_ALG ?? 'RS256';
const audience = process.env.OP_AUDIENCE ?? 'urn:diario:api';
const redirectUris = (process.env.OP_REDIRECT_URIS ?? 'http://127.0.0.1/callback').split(',');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const suffix = randomUUID().slice(0, 8);
const keys = [
  { ...rsa, kid: `rsa-${suffix}`, use: 'sig' },
  { ...ec, kid: `ec-${suffix}`, use: 'sig' },
];

// Accounts: the login hint is the person (a fiscal code, optionally `;shape`); the subject is
// opaque, as SPID's is.
const accounts = new Map();
function accountFor(hint) {
  const accountId = `spid-${createHash('sha256').update(hint).digest('hex').slice(0, 24)}`;
  const [fiscalCode, shape] = hint.split(';');
  accounts.set(accountId, { fiscalCode, shape: shape ?? '' });
  return accountId;
}

const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: { keys },
  clients: [{
    client_id: 'diario',
    client_secret: 'diario-test-client-secret-0123456789',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['given_name', 'family_name', 'fiscal_number'] },
  pkce: { required: () => true },
  // The ID token carries the profile claims (the fiscal code among them), as the SPID/CIE
  // brokers' ID tokens do, not only the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg } },
      }),
    },
  },
  async findAccount(_ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, given_name: 'Prova', family_name: 'Persona' };
        if (account.shape !== 'no-fiscal-number') claims.fiscal_number = `TINIT-${account.fiscalCode}`;
        return claims;
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addOIDCClaims(['fiscal_number', 'given_name', 'family_name']);
    grant.addResourceScope(audience, 'api');
    await grant.save();
    return grant;
  },
  extraTokenClaims(_ctx, token) {
    const account = accounts.get(token.accountId);
    if (!account || account.shape === 'no-fiscal-number') return undefined;
    return { fiscal_number: `TINIT-${account.fiscalCode}` };
  },
  formats: {
    customizers: {
      jwt(_ctx, token, jwt) {
        const shape = accounts.get(token.accountId)?.shape;
        if (shape === 'aud-array') jwt.payload.aud = ['urn:other:resource', audience];
        if (shape === 'no-iss') delete jwt.payload.iss;
        if (shape === 'expired') {
          jwt.payload.iat -= 7200;
          jwt.payload.exp = jwt.payload.iat + 600;
        }
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomUUID()] },
});
provider.on('server_error', (_ctx, err) => console.error('provider error', err));

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (!req.url.startsWith('/interaction/')) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const hint = details.params.login_hint;
    if (!hint) {
      res.statusCode = 400;
      return res.end('login_hint is required by the test provider');
    }
    await provider.interactionFinished(req, res, { login: { accountId: accountFor(hint) } }, {
      mergeWithLastSubmission: false,
    });
  } catch (err) {
    console.error('interaction error', err);
    res.statusCode = 500;
    res.end(String(err));
  }
});

console.log(JSON.stringify({ issuer, kids: keys.map((k) => k.kid) }));
