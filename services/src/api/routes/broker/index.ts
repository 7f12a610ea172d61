import type { ServiceContext } from '../../../shared/context.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { registrationRoutes } from './registration.js';

/** The credential broker: device registration for the `sesame` CLI, and (below) brokered requests. */
export async function brokerRoutes(app: TypedApp, ctx: ServiceContext) {
  await registrationRoutes(app, ctx);
}
