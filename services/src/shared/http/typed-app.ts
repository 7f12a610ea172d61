import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault,
} from 'fastify';
import type { ServiceContext } from '../context.js';

/**
 * The app every route module registers on: the TypeBox type provider turns each route's
 * `params`/`querystring`/`body`/`response` schemas into the types of `request` and the reply, so
 * a handler never casts a request part (a cast means a schema is missing).
 */
export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** A module of routes mounted under `/api/v1`. */
export type RouteModule = (app: TypedApp, ctx: ServiceContext) => Promise<void>;
