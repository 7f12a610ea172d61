// The broker's per-secret policy: which requests a vault item's credential may be attached to.
// Pure (no I/O), so the table test in `test/broker-policy.test.ts` covers every key.
//
// Keys (all optional; `{}` is full access):
// - `allowed_methods`: HTTP methods allowed (case-insensitive).
// - `allowed_paths`: path globs allowed (`*` one segment's characters, `**` anything, `/v1/**`
//   also matches `/v1`).
// - `denied_paths`: path globs refused whatever else says (checked first).
// - `allowed_subdomains`: subdomains of the item's hostname that may be called too (`uploads`
//   for `uploads.<hostname>`, a full name ending in `.<hostname>`, or `*` for any).
// - `path_rules`: `[{path, methods}]`; the first rule whose glob matches the path decides the
//   allowed methods, taking precedence over `allowed_methods` and `allowed_paths`.
//
// The vault validates a policy when an item is saved (`parseBrokerPolicy`, 422 on unknown keys).
import type { BrokerPolicy } from '@sesamespace/sdk/protocol';

/** A path glob as a regular expression: `**` crosses `/`, `*` and `?` do not. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `/**` at the end also matches the prefix itself (`/v1/**` matches `/v1`).
      if (source.endsWith('/') && i + 2 === glob.length) { source = `${source.slice(0, -1)}(?:/.*)?`; i++; continue; }
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function pathMatches(glob: string, path: string): boolean {
  return globToRegExp(glob).test(path);
}

const list = (values: string[]) => `[${values.join(', ')}]`;
const upper = (values: string[]) => values.map((v) => v.toUpperCase());

/**
 * Whether `host` is the item's hostname or a subdomain the policy allows. Hostnames compare
 * case-insensitively, without a trailing dot.
 */
export function hostAllowed(policy: BrokerPolicy, itemHostname: string, host: string): boolean {
  const base = normaliseHost(itemHostname);
  const target = normaliseHost(host);
  if (target === base) return true;
  if (!target.endsWith(`.${base}`)) return false;
  const sub = target.slice(0, -(base.length + 1));
  return (policy.allowed_subdomains ?? []).some((entry) => {
    const e = normaliseHost(entry);
    if (e === '*') return true;
    return e === sub || e === target;
  });
}

export function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * The reason the policy refuses `method path`, naming the rule ("Access denied: method POST
 * not in allowed_methods [GET]"), or undefined when it allows it. The host is checked
 * separately (`hostAllowed`), before an item is even chosen.
 */
export function policyDenial(policy: BrokerPolicy, method: string, path: string): string | undefined {
  const m = method.toUpperCase();
  const denied = (policy.denied_paths ?? []).filter((glob) => pathMatches(glob, path));
  if (denied.length > 0) return `Access denied: path ${path} matches denied_paths ${list(denied)}`;
  const rules = policy.path_rules ?? [];
  const ruleIndex = rules.findIndex((rule) => pathMatches(rule.path, path));
  if (ruleIndex >= 0) {
    const rule = rules[ruleIndex];
    if (!upper(rule.methods).includes(m)) return `Access denied: method ${m} not in path_rules[${ruleIndex}].methods ${list(upper(rule.methods))} for ${rule.path}`;
    return undefined;
  }
  if (policy.allowed_methods && !upper(policy.allowed_methods).includes(m)) {
    return `Access denied: method ${m} not in allowed_methods ${list(upper(policy.allowed_methods))}`;
  }
  if (policy.allowed_paths && !policy.allowed_paths.some((glob) => pathMatches(glob, path))) {
    return `Access denied: path ${path} not in allowed_paths ${list(policy.allowed_paths)}`;
  }
  return undefined;
}
