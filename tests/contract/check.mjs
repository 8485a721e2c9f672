// Validates what the devstore issues with Shopify's own library (@shopify/shopify-api).
// Input (stdin, JSON): {apiKey, apiSecret, idToken, webhook: {body, headers}, query,
//   callbackQuery (optional: the OAuth callback's query)}
// Output (stdout, JSON): what the library concluded about each.
import '@shopify/shopify-api/adapters/node';
import {shopifyApi, ApiVersion, LogSeverity} from '@shopify/shopify-api';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (chunk) => { data += chunk; });
  process.stdin.on('end', () => resolve(data));
}));

const shopify = shopifyApi({
  apiKey: input.apiKey,
  apiSecretKey: input.apiSecret,
  scopes: [],
  hostName: 'localhost',
  apiVersion: ApiVersion.July26,  // the version shopify.app.toml pins
  isEmbeddedApp: true,
  logger: {level: LogSeverity.Error},
});

const result = {};
try {
  const payload = await shopify.session.decodeSessionToken(input.idToken);
  result.idToken = {ok: true, dest: payload.dest, aud: payload.aud, sub: payload.sub};
} catch (error) {
  result.idToken = {ok: false, error: String(error)};
}

const check = await shopify.webhooks.validate({
  rawBody: input.webhook.body,
  rawRequest: {method: 'POST', url: '/webhooks', headers: input.webhook.headers},
  rawResponse: {},
});
result.webhook = check;

try {
  result.queryHmac = await shopify.utils.validateHmac(input.query);
} catch (error) {
  result.queryHmac = false;
  result.queryHmacError = String(error);
}
if (input.callbackQuery) {
  try {
    result.callbackHmac = await shopify.utils.validateHmac(input.callbackQuery);
  } catch (error) {
    result.callbackHmac = false;
    result.callbackHmacError = String(error);
  }
}
process.stdout.write(JSON.stringify(result));
