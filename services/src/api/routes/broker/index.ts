import type { ServiceContext } from '../../../shared/context.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { claimRoutes } from './claims.js';
import { registrationRoutes } from './registration.js';
import { brokerRequestRoutes } from './requests.js';

/** The credential broker: device registration for the `sesame` CLI, and brokered requests. */
export async function brokerRoutes(app: TypedApp, ctx: ServiceContext) {
  await registrationRoutes(app, ctx);
  await claimRoutes(app, ctx);
  await brokerRequestRoutes(app, ctx);
}
