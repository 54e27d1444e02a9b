// Dredd hooks: every documented response of specs/openapi.yaml provoked for real on the mock.
//
//   dredd specs/openapi.yaml http://127.0.0.1:4010 --hookfiles tests/clients/dredd/hooks.js \
//     -h "Authorization:Bearer $BILLING_BEARER_TOKEN" -h "App-Id:$BILLING_APP_ID" -h "App-Token:$BILLING_APP_TOKEN"
//
// Dredd makes one transaction per documented response and sends the same example request for each. Here
// each transaction, by its name, gets the request that provokes its response (PROVOKE), and Dredd checks
// the real answer. Three things Dredd 14.1.0 does not do for OpenAPI 3 are done here, from the file Dredd
// reads (the transaction's origin), never from the mock:
//
// * the body schema: @apielements/openapi3-parser 0.16.0 builds no JSON Schema from a Schema Object (its
//   "FIXME: We should generate a JSON Schema" in parseMediaTypeObject.js), so Dredd would only compare the
//   answer with the keys of the response's FIRST named example (Mifumo's 400 would need `page_size`, its
//   401 `detail` alone). Each transaction gets `expected.bodySchema`, the response's schema turned into
//   JSON Schema draft-07, which Dredd's validator (Gavel) checks instead of the example.
// * header values: Dredd only checks that each documented response header is present (it ignores a
//   Header Object's `schema` and `required`, so every documented header is expected). After each
//   transaction, each documented header's value is checked against its schema (WWW-Authenticate's enum,
//   Retry-After's integer >= 1, X-Correlation-Id's uuid), a mismatch failing the transaction.
// * credentials per API: the `-h` credentials go to every request; each transaction keeps only those of
//   its operation's security schemes, and none for the 401/403.
//
// A transaction with no entry in PROVOKE fails (a response added to the file needs its request here);
// one listed in SKIPPED is skipped, with its reason (none: the mock provokes every documented response).
// With DREDD_HOOKS_REPORT=<file>, what each transaction sent, got and how Gavel judged it is written there
// as JSON (tests/clients/test_dredd.py reads it).

const fs = require('fs');
const hooks = require('hooks');
const yaml = require('js-yaml');
const Ajv = require('ajv');

const MIFUMO = '/api/billing/history/ > Get billing history';
const DESCRIBE = '/api/billing/history/ > Describe the billing history endpoint';
const STATEMENTS = '/billing_statements > Get a collection of billing statements';
const STATEMENT = '/billing_statements/{id} > Get a billing statement';
const JSON_TYPE = 'application/json';
const SCHEMAS = '#/components/schemas/';

// Transaction name -> how its request differs from Dredd's example request (the operation's own
// credentials, Dredd's parameter examples): `credentials: false` sends none; `query` sets query
// parameters; `headers` sets headers; `params` sets path parameters.
const PROVOKE = {
  [`${MIFUMO} > 200 > ${JSON_TYPE}`]: {},
  [`${MIFUMO} > 400 > ${JSON_TYPE}`]: { query: { type: 'refund' } }, // not a record type
  [`${MIFUMO} > 401 > ${JSON_TYPE}`]: { credentials: false },
  [`${MIFUMO} > 404 > ${JSON_TYPE}`]: { query: { page: '999' } }, // past the last page
  [`${MIFUMO} > 406 > ${JSON_TYPE}`]: { headers: { Accept: 'application/xml' } },
  [`${MIFUMO} > 500 > ${JSON_TYPE}`]: { headers: { Prefer: 'code=500' } }, // the mock's client control
  [`${DESCRIBE} > 200 > ${JSON_TYPE}`]: {},
  [`${DESCRIBE} > 401 > ${JSON_TYPE}`]: { credentials: false },
  [`${DESCRIBE} > 404 > ${JSON_TYPE}`]: { query: { format: 'xml' } }, // DRF's ?format= negotiation
  [`${DESCRIBE} > 406 > ${JSON_TYPE}`]: { headers: { Accept: 'application/xml' } },
  [`${STATEMENTS} > 200 > ${JSON_TYPE}`]: {},
  [`${STATEMENTS} > 400 > ${JSON_TYPE}`]: { query: { page_size: '0' } }, // below the minimum, 1
  [`${STATEMENTS} > 403 > ${JSON_TYPE}`]: { credentials: false },
  [`${STATEMENTS} > 429 > ${JSON_TYPE}`]: { headers: { Prefer: 'code=429' } },
  [`${STATEMENTS} > 500 > ${JSON_TYPE}`]: { headers: { Prefer: 'code=500' } },
  [`${STATEMENT} > 200 > ${JSON_TYPE}`]: {},
  [`${STATEMENT} > 400 > ${JSON_TYPE}`]: { params: { id: 'x'.repeat(256) } }, // over the id's maxLength, 255
  [`${STATEMENT} > 403 > ${JSON_TYPE}`]: { credentials: false },
  [`${STATEMENT} > 404 > ${JSON_TYPE}`]: { params: { id: 'no-such-statement' } },
  [`${STATEMENT} > 429 > ${JSON_TYPE}`]: { headers: { Prefer: 'code=429' } },
  [`${STATEMENT} > 500 > ${JSON_TYPE}`]: { headers: { Prefer: 'code=500' } },
};

// Transaction name -> why the mock cannot produce that response. Empty: it produces every one.
const SKIPPED = {};

// Formats JSON Schema validators check; OpenAPI's own (int64, double) are annotations.
const CHECKED_FORMATS = new Set(['uuid', 'date-time', 'uri']);
// Schema Object keys whose value is data, not schemas.
const VALUES = new Set(['enum', 'default', 'required']);
// Schema Object keys that are OpenAPI's alone or only annotate (as are `x-` extensions).
const OPENAPI_ONLY = new Set(['nullable', 'example', 'description', 'format', 'externalDocs', 'xml', 'deprecated']);

let documentCache;
const report = [];

function loadDocument(filename) {
  if (!documentCache || documentCache.filename !== filename) {
    documentCache = { filename, document: yaml.safeLoad(fs.readFileSync(filename, 'utf8')) };
  }
  return documentCache.document;
}

function resolve(document, node) {
  if (!node || !node.$ref) return node;
  if (!node.$ref.startsWith('#/')) throw new Error(`only local references are supported: ${node.$ref}`);
  const target = node.$ref
    .slice(2)
    .split('/')
    .reduce((at, part) => at[part.replace(/~1/g, '/').replace(/~0/g, '~')], document);
  return resolve(document, target);
}

// An OpenAPI 3.0 Schema Object as JSON Schema draft-07: `nullable` becomes a null type (and a null enum
// member), unchecked formats and OpenAPI's annotations go, references point into `definitions`.
function toJsonSchema(schema) {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  if (schema.$ref) {
    // A reference's siblings are ignored in OpenAPI 3.0.
    if (!schema.$ref.startsWith(SCHEMAS)) throw new Error(`a schema reference outside ${SCHEMAS}: ${schema.$ref}`);
    return { $ref: `#/definitions/${schema.$ref.slice(SCHEMAS.length)}` };
  }
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toJsonSchema(sub)]));
    } else if (VALUES.has(key)) {
      out[key] = value;
    } else if (!OPENAPI_ONLY.has(key) && !key.startsWith('x-')) {
      out[key] = toJsonSchema(value);
    }
  }
  if (CHECKED_FORMATS.has(schema.format)) out.format = schema.format;
  if (schema.nullable) {
    if (!('type' in out)) return { anyOf: [out, { type: 'null' }] };
    out.type = [out.type, 'null'];
    if (out.enum) out.enum = [...out.enum, null];
  }
  return out;
}

function rootSchema(document, schema) {
  const definitions = Object.fromEntries(
    Object.entries(document.components.schemas).map(([name, sub]) => [name, toJsonSchema(sub)]),
  );
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...toJsonSchema(schema), definitions };
}

function operationOf(document, transaction) {
  const path = transaction.origin.resourceName;
  const operation = document.paths[path][transaction.request.method.toLowerCase()];
  const response = resolve(document, operation.responses[transaction.expected.statusCode]);
  return { path, operation, response };
}

// The request headers each security scheme of the document sends.
function credentialHeaders(document, requirements) {
  const names = new Set();
  for (const requirement of requirements) {
    for (const schemeName of Object.keys(requirement)) {
      const scheme = resolve(document, document.components.securitySchemes[schemeName]);
      if (scheme.type === 'http') names.add('authorization');
      else if (scheme.type === 'apiKey' && scheme.in === 'header') names.add(scheme.name.toLowerCase());
    }
  }
  return names;
}

function setHeader(headers, name, value) {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name.toLowerCase()) delete headers[key];
  if (value !== undefined) headers[name] = value;
}

function provoke(document, transaction, how) {
  const { path, operation } = operationOf(document, transaction);
  const { request } = transaction;
  const schemes = Object.keys(document.components.securitySchemes);
  const every = credentialHeaders(document, schemes.map((scheme) => ({ [scheme]: [] })));
  const requirements = operation.security || document.security || [];
  const own = how.credentials === false ? new Set() : credentialHeaders(document, requirements);
  for (const name of every) if (!own.has(name)) setHeader(request.headers, name, undefined);
  for (const [name, value] of Object.entries(how.headers || {})) setHeader(request.headers, name, value);

  const url = new URL(transaction.fullPath, 'http://dredd.invalid');
  if (how.params) {
    // The path parameters Dredd sent (its examples), read back through the template, then ours.
    const literal = (text) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    const pattern = path
      .split(/({\w+})/)
      .map((part) => (/^{\w+}$/.test(part) ? `(?<${part.slice(1, -1)}>[^/]+)` : literal(part)))
      .join('');
    const params = { ...url.pathname.match(new RegExp(`^${pattern}$`)).groups, ...how.params };
    url.pathname = path.replace(/{(\w+)}/g, (_, name) => encodeURIComponent(params[name]));
  }
  for (const [name, value] of Object.entries(how.query || {})) url.searchParams.set(name, value);
  const uri = `${url.pathname}${url.search}`;
  transaction.fullPath = uri;
  request.uri = uri;
  transaction.id = `${request.method} (${transaction.expected.statusCode}) ${uri}`;
}

function headerProblems(document, transaction) {
  const { response } = operationOf(document, transaction);
  const ajv = new Ajv({ allErrors: true, coerceTypes: true });
  const real = transaction.real.headers;
  const problems = [];
  for (const [name, header] of Object.entries(response.headers || {})) {
    const { schema, required } = resolve(document, header);
    const value = real[name.toLowerCase()];
    if (value === undefined) {
      if (required) problems.push(`header ${name} is required and missing`);
    } else if (schema) {
      const checked = rootSchema(document, { type: 'object', properties: { value: schema } });
      if (!ajv.validate(checked, { value })) {
        const why = ajv.errors.map((error) => error.message).join(', ');
        problems.push(`header ${name}: ${JSON.stringify(value)} ${why}`);
      }
    }
  }
  return problems;
}

hooks.beforeEach((transaction) => {
  const document = loadDocument(transaction.origin.filename);
  const entry = { name: transaction.name };
  report.push(entry);
  if (transaction.name in SKIPPED) {
    transaction.skip = true;
    entry.skipped = SKIPPED[transaction.name];
    return;
  }
  const how = PROVOKE[transaction.name];
  if (how === undefined) {
    transaction.fail = `no request provokes this response: add "${transaction.name}" to PROVOKE in hooks.js`;
    entry.unprovoked = true;
    return;
  }
  provoke(document, transaction, how);
  const { response } = operationOf(document, transaction);
  const content = (response.content || {})[JSON_TYPE];
  if (content && content.schema) transaction.expected.bodySchema = rootSchema(document, content.schema);
  Object.assign(entry, {
    method: transaction.request.method,
    uri: transaction.request.uri,
    headers: Object.keys(transaction.request.headers),
    bodySchema: Boolean(transaction.expected.bodySchema),
  });
});

hooks.afterEach((transaction) => {
  const entry = report.find((e) => e.name === transaction.name);
  if (!transaction.real || entry.skipped !== undefined || entry.unprovoked) return;
  const problems = headerProblems(loadDocument(transaction.origin.filename), transaction);
  if (problems.length > 0) transaction.fail = problems.join('; ');
  Object.assign(entry, {
    status: transaction.real.statusCode,
    gavelValid: Boolean(transaction.test && transaction.test.valid),
    headerProblems: problems,
  });
});

// Dredd runs a hook by its arity (one argument: synchronous), so the unused argument stays.
hooks.afterAll((_transactions) => {
  if (process.env.DREDD_HOOKS_REPORT) {
    const written = { transactions: report, skipped: SKIPPED };
    fs.writeFileSync(process.env.DREDD_HOOKS_REPORT, JSON.stringify(written, null, 2));
  }
});
