import type { Config } from '../config.js';
import { parseOutboundAllow, type OutboundAllowList } from './address-policy.js';

export type { OutboundAllowList } from './address-policy.js';
export {
  OutboundFailedError, OutboundRefusedError, refusedOutboundUrl, sendOutbound,
  type OutboundRequest, type OutboundResponse,
} from './send-outbound.js';

const cache = new WeakMap<object, OutboundAllowList>();

/** The allow list of a loaded configuration (validated when the configuration was loaded). */
export function outboundAllowList(config: Pick<Config, 'SESAME_OUTBOUND_ALLOW'>): OutboundAllowList {
  let list = cache.get(config);
  if (!list) {
    list = parseOutboundAllow(config.SESAME_OUTBOUND_ALLOW);
    cache.set(config, list);
  }
  return list;
}
