import { API_KEY_SCOPES, type ApiKeyScope } from '@sesamespace/sdk/protocol';

/**
 * What an API key may do. The names are wire (`API_KEY_SCOPES` in the protocol module, which the
 * SDK types `createApiKey` with); what each one grants is decided here, and only here.
 *
 * A later feature adds its per-area scopes (`vault:read`, `vault:request`, `tasks:write`, …) to
 * `API_KEY_SCOPES` and one line each to `GRANTS` below; `*` grants them without a change.
 */
export type Scope = ApiKeyScope;
export const SCOPES: readonly Scope[] = API_KEY_SCOPES;

/** The scopes each scope grants besides itself. */
const GRANTS: { readonly [S in Scope]: readonly Scope[] } = {
  '*': API_KEY_SCOPES,
  admin: ['write', 'read'],
  write: ['read'],
  read: [],
};

function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Everything a set of held scopes grants. Unknown strings (a scope since removed) grant nothing. */
function grantedScopes(held: readonly string[]): Set<Scope> {
  const granted = new Set<Scope>();
  const visit = (scope: Scope) => {
    if (granted.has(scope)) return;
    granted.add(scope);
    for (const implied of GRANTS[scope]) visit(implied);
  };
  for (const scope of held) if (isScope(scope)) visit(scope);
  return granted;
}

export function grants(held: readonly string[], needed: Scope): boolean {
  return grantedScopes(held).has(needed);
}

/** Whether a key holding `held` may mint a key with `requested`: never wider than itself. */
export function covers(held: readonly string[], requested: readonly Scope[]): boolean {
  const granted = grantedScopes(held);
  return [...grantedScopes(requested)].every((scope) => granted.has(scope));
}
