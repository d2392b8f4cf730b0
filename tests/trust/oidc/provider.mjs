// A real OpenID provider (the `oidc-provider` package) for the tests, on a loopback port.
//
// Usage: node provider.mjs <config.json>. The configuration names the issuer, port, signing
// keys, clients, accounts (id -> claims), token lifetimes and resource servers. Login has no
// user interface: a test drives it over HTTP with
//   GET /interaction/<uid>                    -> {"uid": ..., "prompt": "login"}
//   GET /interaction/<uid>/login?account=<id> -> continues the authorization request as <id>
// Grants are given without a consent screen (the clients are first-party). Prints
// "listening <issuer>" on stdout once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
const resources = config.resources ?? {};

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  scopes: ['openid', 'profile', 'roles', 'bsn'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    roles: ['roles', 'department'],
    bsn: ['bsn'],
  },
  pkce: { required: () => true },
  ttl: {
    IdToken: config.idTokenTTL ?? 3600,
    AccessToken: config.accessTokenTTL ?? 3600,
    ClientCredentials: config.accessTokenTTL ?? 3600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, indicator) => {
        const server = resources[indicator];
        if (!server) throw new errors.InvalidTarget();
        return {
          scope: server.scope,
          audience: indicator,
          accessTokenTTL: config.accessTokenTTL ?? 3600,
          accessTokenFormat: 'jwt',
        };
      },
    },
  },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
  },
  async loadExistingGrant(ctx) {
    const clientId = ctx.oidc.client.clientId;
    const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['test-cookie-key'] },
});

for (const event of ['server_error', 'end_session.error', 'grant.error', 'authorization.error']) {
  provider.on(event, (ctx, error) => {
    process.stderr.write(`${event}: ${error} ${error.error_description ?? ''} ${error.cause ?? ''}\n`);
  });
}

const handler = provider.callback();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, config.issuer);
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return handler(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (!match[2]) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
      return;
    }
    const account = url.searchParams.get('account');
    if (!accounts[account]) {
      res.statusCode = 400;
      res.end(`unknown account ${account}`);
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: account } },
      { mergeWithLastSubmission: false },
    );
  } catch (error) {
    res.statusCode = 400;
    res.end(String(error));
  }
});

server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${config.issuer}\n`);
});
