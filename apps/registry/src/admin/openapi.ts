import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export const OPENAPI_JSON_PATH = '/api/v1/openapi.json';
export const OPENAPI_UI_PATH = '/api/v1/docs';

/**
 * The OpenAPI 3 document of the admin API, built from the controllers and
 * DTOs, at /api/v1/openapi.json, and a Swagger UI page at /api/v1/docs.
 *
 * Both are plain Fastify routes (SwaggerModule registers them on the adapter,
 * not as Nest controllers), so the Nest auth guard never sees them: they are
 * public, which is what an API description should be. They do not collide
 * with the GOPROXY catch-all `GET /*`: Fastify's router always prefers a
 * static route and a longer wildcard prefix (`/api/v1/docs/*`, served by
 * @fastify/static) over `/*`, whatever the registration order.
 *
 * Call after NestFactory.create and before listen.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('ModGate admin API')
    .setDescription(
      'Users, service accounts, teams, members, OIDC group mappings, access rules and API tokens; ' +
        'publishing (PUT /api/v1/modules/<module>/@v/<version> with the module zip) and the module catalogue. ' +
        'Lists take ?limit (1–200, default 50) and ?offset and answer {items, total, limit, offset}; ' +
        'errors answer {code, message} with a stable code (bad-request, unauthorized, forbidden, not-found, conflict, …).',
    )
    .setVersion('v1')
    // Every operation names "bearer" (api-controller.ts): the /api routes refuse
    // Basic (auth/authentication.service.ts), so that scheme is declared only to
    // document the GOPROXY routes' .netrc credentials.
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'mg_… token or JWT', description: 'An API token (mg_…) or a session JWT' }, 'bearer')
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'GOPROXY routes only (~/.netrc: login + API token as the password); /api refuses Basic' }, 'basic')
    .build();
  // Built lazily on the first request: start-up stays fast.
  const document = (): OpenAPIObject => onlyApiPaths(SwaggerModule.createDocument(app, config));
  SwaggerModule.setup(OPENAPI_UI_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'ModGate admin API',
  });
}

/**
 * The scanner sees every controller; the GOPROXY, sumdb, health and start
 * page routes are not part of the REST API (and the catch-all would show up
 * as a bogus `/{*}` operation), so only /api/ paths are kept.
 */
function onlyApiPaths(doc: OpenAPIObject): OpenAPIObject {
  const paths = Object.fromEntries(Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/')));
  return { ...doc, paths };
}
