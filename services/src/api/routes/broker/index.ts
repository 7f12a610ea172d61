import type { ServiceContext } from '../../../shared/context.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { registrationRoutes } from './registration.js';
import { brokerRequestRoutes } from './requests.js';

/** The credential broker: device registration for the `sesame` CLI, and brokered requests. */
export async function brokerRoutes(app: TypedApp, ctx: ServiceContext) {
  await registrationRoutes(app, ctx);
  await brokerRequestRoutes(app, ctx);
}
